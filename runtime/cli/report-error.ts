import { EdgeLstmError } from '../errors';

/** Prints an error the way every command does: the message, and for config errors nothing else. Returns the exit code (2: bad usage, 1: failure). */
export function reportError(e: unknown): number {
  if (e instanceof EdgeLstmError) {
    process.stderr.write(`edgelstm: ${e.message}\n`);
    return e.code === 'E_CONFIG' ? 2 : 1;
  }
  process.stderr.write(`edgelstm: ${(e as Error)?.stack ?? String(e)}\n`);
  return 1;
}
