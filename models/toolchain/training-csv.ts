import { readFileSync } from 'node:fs';
import { EdgeLstmError, formatWithDetails, type ErrorDetails } from '../../runtime/errors';
import { splitCsvLine } from '../../runtime/replay/csv';
import { parseTimestamp } from '../../runtime/util/timestamp';
import type { RawSeries } from './series-data';

function csvError(message: string, d: ErrorDetails): EdgeLstmError {
  return new EdgeLstmError('E_CSV', formatWithDetails(message, d), d);
}

/**
 * Reads one device's training history: a header with `timestamp` and the
 * named feature columns (others are ignored), then one row per reading. Every
 * problem is an E_CSV error naming the file, line and column: a missing
 * column, a bad timestamp, a non-numeric cell, fewer rows than one window
 * needs, or a column that never changes (it cannot be normalized, and a
 * constant teaches the model nothing).
 */
export function readTrainingCsv(file: string, features: readonly string[], minRows: number): RawSeries {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw csvError(`cannot read: ${(e as Error).message}`, { file });
  }
  return parseTrainingCsv(text.replace(/^\uFEFF/, ''), file, features, minRows);
}

export function parseTrainingCsv(text: string, file: string, features: readonly string[], minRows: number): RawSeries {
  const lines = text.split(/\r?\n/);
  let first = 0;
  while (first < lines.length && lines[first]!.trim() === '') first++;
  if (first === lines.length) throw csvError('file is empty', { file, line: 1, expected: 'a header row with timestamp and feature columns', found: 'nothing' });
  const header = splitCsvLine(lines[first]!).map((h) => h.trim());
  const tCol = header.indexOf('timestamp');
  if (tCol < 0) throw csvError('no timestamp column', { file, line: first + 1, column: 'timestamp', expected: 'a header with "timestamp"', found: header.join(',') });
  const cols = features.map((f) => {
    const i = header.indexOf(f);
    if (i < 0) throw csvError('feature column is missing', { file, line: first + 1, column: f, expected: `a header with "${f}"`, found: header.join(',') });
    return i;
  });
  const values: number[][] = features.map(() => []);
  const lineOf: number[] = [];
  for (let li = first + 1; li < lines.length; li++) {
    const text = lines[li]!;
    if (text.trim() === '') continue;
    const line = li + 1;
    const cells = splitCsvLine(text);
    if (cells.length < header.length) throw csvError('row has too few fields', { file, line, expected: `${header.length} fields`, found: `${cells.length}` });
    const ts = cells[tCol]!.trim();
    if (Number.isNaN(parseTimestamp(ts))) throw csvError('bad timestamp', { file, line, column: 'timestamp', expected: 'epoch milliseconds or ISO 8601', found: JSON.stringify(ts) });
    for (let f = 0; f < cols.length; f++) {
      const cell = cells[cols[f]!]!.trim();
      const v = cell === '' ? NaN : Number(cell);
      if (!Number.isFinite(v)) throw csvError('not a finite number', { file, line, column: features[f]!, expected: 'a number', found: JSON.stringify(cell) });
      values[f]!.push(v);
    }
    lineOf.push(line);
  }
  const n = lineOf.length;
  if (n < minRows) {
    throw csvError(`too few rows for one training window`, { file, line: lineOf[n - 1] ?? first + 1, expected: `at least ${minRows} data rows`, found: `${n}` });
  }
  values.forEach((col, f) => {
    const v0 = col[0]!;
    if (col.every((v) => v === v0)) {
      throw csvError('column has zero variance (every value is the same), so it cannot be normalized or learned from', { file, line: lineOf[0]!, column: features[f]!, expected: 'values that vary', found: `${v0} on all ${n} rows (lines ${lineOf[0]}-${lineOf[n - 1]})` });
    }
  });
  return { name: file, columns: values.map((c) => Float64Array.from(c)) };
}
