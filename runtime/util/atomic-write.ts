import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export interface AtomicWriteOptions {
  /** File mode of a new file. Default 0o644; state and journals use 0o600. */
  mode?: number;
  /** fsync the file before the rename and the folder after it, so the new content survives a power cut. Default true. */
  durable?: boolean;
}

let written = 0;

/**
 * Writes a file so that readers see the old content or the whole new one,
 * never a part: a temporary file in the same folder (same file system),
 * fsync, a rename over the old file, fsync of the folder. A failed write
 * leaves no temporary file behind. Returns the bytes written.
 */
export function writeFileAtomic(path: string, data: Uint8Array | string, o: AtomicWriteOptions = {}): number {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const durable = o.durable ?? true;
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${++written}.tmp`);
  try {
    const fd = openSync(tmp, 'w', o.mode ?? 0o644);
    try {
      writeSync(fd, bytes);
      if (durable) fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
  if (durable) fsyncDir(path);
  return bytes.length;
}

/** fsync of the folder holding `path`, so a rename in it is on disk. */
export function fsyncDir(path: string): void {
  try {
    const fd = openSync(dirname(path), 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Some filesystems refuse fsync on a directory; the rename is still atomic.
  }
}
