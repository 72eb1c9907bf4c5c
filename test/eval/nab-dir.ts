import { existsSync } from 'node:fs';
import path from 'node:path';

/** The NAB snapshot: shared/ sits beside the repo root (CI clones it there); EDGELSTM_NAB_DIR overrides. */
export const NAB_DIR = process.env['EDGELSTM_NAB_DIR'] ?? path.resolve(__dirname, '../../../shared/datasets/nab');

export const HAVE_NAB = existsSync(path.join(NAB_DIR, 'data'));

/**
 * A tap `skip` value: skip with the reason on a developer machine that lacks
 * the prerequisite, but never in CI (CI is set), where a missing dataset or
 * browser must fail loudly rather than pass by skipping.
 */
export function skipUnless(available: boolean, reason: string): string | false {
  return available || process.env['CI'] !== undefined ? false : reason;
}

export const NO_NAB = `no NAB data at ${NAB_DIR} (set EDGELSTM_NAB_DIR)`;
