/** What a command printed while `fn` ran, and what it returned. */
export interface Captured<T> {
  value: T;
  stdout: string;
  stderr: string;
}

/**
 * Runs `fn` with process.stderr (and, with `stdout: true`, process.stdout)
 * captured instead of printed, and restores them whatever happens.
 */
export async function captureOutput<T>(fn: () => Promise<T>, opts: { stdout?: boolean } = {}): Promise<Captured<T>> {
  const out = process.stdout.write;
  const err = process.stderr.write;
  let stdout = '';
  let stderr = '';
  process.stderr.write = ((s: string | Uint8Array) => ((stderr += String(s)), true)) as typeof process.stderr.write;
  if (opts.stdout) process.stdout.write = ((s: string | Uint8Array) => ((stdout += String(s)), true)) as typeof process.stdout.write;
  try {
    return { value: await fn(), stdout, stderr };
  } finally {
    process.stdout.write = out;
    process.stderr.write = err;
  }
}
