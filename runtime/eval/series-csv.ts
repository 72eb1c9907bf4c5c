/** Reading NAB-style CSV files: a header row, then `timestamp,<numeric columns...>`. */
import { readFileSync } from 'node:fs';
import { csvError, parseNabTime } from './timestamp';

export interface Series {
  readonly file: string;
  /** Epoch milliseconds (UTC reading of NAB's zone-less times), in file order. */
  readonly timestamps: Float64Array;
  /** The requested numeric column, in file order. */
  readonly values: Float64Array;
}

/**
 * Reads the `timestamp` column and one numeric column (by header name). Rows
 * stay in file order: NAB has duplicated and backwards timestamps that must
 * not be sorted away. Errors are E_CSV and name file, line and column.
 */
export function readSeriesCsv(file: string, column = 'value'): Series {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw csvError(`cannot read: ${(e as Error).message}`, { file });
  }
  return parseSeriesCsv(text, file, column);
}

export function parseSeriesCsv(text: string, file: string, column = 'value'): Series {
  const lines = text.split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  if (lines.length === 0) throw csvError('file is empty, expected a header row', { file, line: 1 });
  const header = lines[0]!.split(',').map((h) => h.trim());
  const tCol = header.indexOf('timestamp');
  const vCol = header.indexOf(column);
  if (tCol < 0) throw csvError('no timestamp column', { file, line: 1, column: 'timestamp', expected: 'a header with "timestamp"', found: lines[0]! });
  if (vCol < 0) throw csvError(`no ${column} column`, { file, line: 1, column, expected: `a header with "${column}"`, found: lines[0]! });
  const n = lines.length - 1;
  const timestamps = new Float64Array(n);
  const values = new Float64Array(n);
  for (let r = 0; r < n; r++) {
    const line = r + 2;
    const cells = lines[r + 1]!.split(',');
    if (cells.length !== header.length) throw csvError('wrong number of fields', { file, line, expected: `${header.length}`, found: `${cells.length}` });
    const ts = parseNabTime(cells[tCol]!.trim());
    if (Number.isNaN(ts)) throw csvError('bad timestamp', { file, line, column: 'timestamp', expected: 'YYYY-MM-DD HH:MM:SS', found: cells[tCol]! });
    const cell = cells[vCol]!.trim();
    const v = cell === '' ? NaN : Number(cell);
    if (!Number.isFinite(v)) throw csvError('not a finite number', { file, line, column, found: cells[vCol]! });
    timestamps[r] = ts;
    values[r] = v;
  }
  return { file, timestamps, values };
}
