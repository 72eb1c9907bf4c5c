/** NAB's ground truth: combined_windows.json, timestamps resolved to row indices. */
import { readFileSync } from 'node:fs';
import { EdgeLstmError } from '../errors';
import { parseNabTime } from './timestamp';
import type { RowWindow } from './sweep-values';

/** File key (`<category>/<name>.csv`) to its windows as [start, end] time strings, both inclusive. */
export type WindowLabels = ReadonlyMap<string, readonly (readonly [string, string])[]>;

function labelError(file: string, message: string, field?: string, found?: string): EdgeLstmError {
  return new EdgeLstmError('E_CONFIG', `${file}: ${field !== undefined ? `${field}: ` : ''}${message}${found !== undefined ? ` (found ${found})` : ''}`, { file, field, found });
}

export function readWindowLabels(file: string): WindowLabels {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw labelError(file, `cannot read labels: ${(e as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw labelError(file, 'expected an object of file keys to window lists');
  const out = new Map<string, (readonly [string, string])[]>();
  for (const [key, list] of Object.entries(parsed)) {
    if (!Array.isArray(list)) throw labelError(file, 'expected a list of [start, end] windows', key, JSON.stringify(list));
    out.set(
      key,
      list.map((w: unknown, k) => {
        if (!Array.isArray(w) || w.length !== 2 || typeof w[0] !== 'string' || typeof w[1] !== 'string') throw labelError(file, 'expected [start, end] time strings', `${key}[${k}]`, JSON.stringify(w));
        return [w[0], w[1]] as const;
      }),
    );
  }
  return out;
}

/**
 * Finds each window's rows by position: L is the first row whose time equals
 * the start, R the first row at or after L whose time equals the end. NAB's
 * boundaries each match exactly one row (SOURCE.md), so a boundary that
 * matches none is an error rather than a guess.
 */
export function resolveWindows(timestamps: ArrayLike<number>, windows: readonly (readonly [string, string])[], labelsFile: string, key: string): RowWindow[] {
  return windows.map(([a, b], k) => {
    const ta = parseNabTime(a);
    const tb = parseNabTime(b);
    if (Number.isNaN(ta) || Number.isNaN(tb)) throw labelError(labelsFile, 'bad window time', `${key}[${k}]`, `[${a}, ${b}]`);
    let start = -1;
    for (let i = 0; i < timestamps.length; i++) {
      if (timestamps[i] === ta) {
        start = i;
        break;
      }
    }
    let end = -1;
    if (start >= 0) {
      for (let i = start; i < timestamps.length; i++) {
        if (timestamps[i] === tb) {
          end = i;
          break;
        }
      }
    }
    if (start < 0 || end < 0) throw labelError(labelsFile, `window ${start < 0 ? 'start' : 'end'} matches no row of the data file`, `${key}[${k}]`, start < 0 ? a : b);
    return { start, end };
  });
}
