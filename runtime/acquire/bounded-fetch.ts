import { AcquireError } from './acquire-error';

const FAILED = 'the model could not be fetched, is too large, or does not match its sha256' as const;

/**
 * Downloads at most `maxBytes` within `timeoutMs` (connect, headers and body
 * together). The body is streamed and counted: a larger announced length is
 * refused before the body is read, an endless or lying stream is cut at the
 * cap. Redirects are refused (they would lead around the host allow-list).
 */
export async function fetchBounded(url: URL, maxBytes: number, timeoutMs: number): Promise<Buffer> {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), timeoutMs);
  const source = url.origin + url.pathname;
  try {
    let res: Response;
    try {
      res = await fetch(url, { signal: abort.signal, redirect: 'manual' });
    } catch (e) {
      throw new AcquireError('E_MODEL', FAILED, `cannot fetch: ${abort.signal.aborted ? `timed out after ${timeoutMs} ms` : (e as Error).message}`, { file: source });
    }
    if (res.status !== 200) {
      await res.body?.cancel().catch(() => undefined);
      throw new AcquireError('E_MODEL', FAILED, `cannot fetch: HTTP ${res.status}`, { file: source });
    }
    const announced = Number(res.headers.get('content-length') ?? NaN);
    if (announced > maxBytes) {
      await res.body?.cancel().catch(() => undefined);
      throw new AcquireError('E_MODEL', FAILED, `announced ${announced} bytes, more than ${maxBytes}`, { file: source });
    }
    const parts: Buffer[] = [];
    let total = 0;
    const reader = res.body!.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        total += value.byteLength;
        if (total > maxBytes) throw new AcquireError('E_MODEL', FAILED, `download passed ${maxBytes} bytes`, { file: source });
        parts.push(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
      }
    } catch (e) {
      await reader.cancel().catch(() => undefined);
      if (e instanceof AcquireError) throw e;
      throw new AcquireError('E_MODEL', FAILED, `download failed: ${abort.signal.aborted ? `timed out after ${timeoutMs} ms` : (e as Error).message}`, { file: source });
    }
    return Buffer.concat(parts, total);
  } finally {
    clearTimeout(timer);
  }
}
