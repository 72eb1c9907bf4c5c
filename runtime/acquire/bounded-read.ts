import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { AcquireError } from './acquire-error';

const CHUNK = 1024 * 1024;

function tooSlow(file: string, ms: number): AcquireError {
  return new AcquireError('E_MODEL', 'the model could not be fetched, is too large, or does not match its sha256', `reading took longer than ${ms} ms`, { file });
}

/**
 * Reads a regular file of at most `maxBytes` within `timeoutMs`. Opened
 * without following a final symlink and without blocking (a FIFO or a
 * device opens at once and is then refused by fstat: nothing waits on a
 * writer that never comes); the size is checked before a byte is read, and
 * again while reading, for a file that grows.
 */
export async function readRegularFile(file: string, maxBytes: number, timeoutMs: number): Promise<Buffer> {
  const deadline = Date.now() + timeoutMs;
  let fh;
  try {
    fh = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    throw new AcquireError('E_MODEL', 'path requests are off or the path is not allowed', `cannot open: ${(e as NodeJS.ErrnoException).code ?? 'error'}`, { file });
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new AcquireError('E_MODEL', 'path requests are off or the path is not allowed', 'not a regular file', { file });
    if (st.size > maxBytes) throw new AcquireError('E_MODEL', 'the model could not be fetched, is too large, or does not match its sha256', `file of ${st.size} bytes is larger than ${maxBytes}`, { file });
    const parts: Buffer[] = [];
    let total = 0;
    for (;;) {
      if (Date.now() > deadline) throw tooSlow(file, timeoutMs);
      const buf = Buffer.allocUnsafe(Math.min(CHUNK, maxBytes + 1 - total));
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > maxBytes) throw new AcquireError('E_MODEL', 'the model could not be fetched, is too large, or does not match its sha256', `file grew past ${maxBytes} bytes while read`, { file });
      parts.push(bytesRead === buf.length ? buf : buf.subarray(0, bytesRead));
    }
    return Buffer.concat(parts, total);
  } finally {
    await fh.close();
  }
}
