import { EdgeLstmError, formatWithDetails } from '../errors';
import type { Engine } from '../engine/engine';
import type { Result } from '../engine/sample';
import { readCsv } from './csv';
import { parseTimestamp } from '../util/timestamp';

export interface ReplayOptions {
  /** Device id for files without a `device` column. Default: the file name. */
  device?: string;
  /** Keep going past a bad row (recording it) instead of stopping at the first. Default false. */
  skipInvalid?: boolean;
}

/** A row that could not be used: where, and why. */
export interface ReplayRowError {
  line: number;
  column: string | undefined;
  code: string;
  message: string;
}

export type ReplayRecord = { line: number; result: Result } | { line: number; error: ReplayRowError };

export interface ReplaySummary {
  rows: number;
  results: number;
  invalid: number;
  anomalies: number;
  devices: number;
}

/**
 * Streams a CSV through the engine: rows in file order (never sorted or
 * de-duplicated), one record per row in input order. Many rows are in flight
 * at once, so a file with several devices is batched as the live service
 * batches concurrent devices.
 */
export async function replayCsv(engine: Engine, file: string, onRecord: (r: ReplayRecord) => void | Promise<void>, opts: ReplayOptions = {}): Promise<ReplaySummary> {
  const features = engine.shape.features;
  const inFlightLimit = Math.max(64, engine.options.maxBatch * 2);
  const queue: { line: number; p: Promise<ReplayRecord> }[] = [];
  const summary: ReplaySummary = { rows: 0, results: 0, invalid: 0, anomalies: 0, devices: 0 };
  const devices = new Set<string>();
  const drainOne = async (): Promise<void> => {
    const r = await queue.shift()!.p;
    if ('result' in r) {
      summary.results++;
      if (r.result.anomaly) summary.anomalies++;
    } else summary.invalid++;
    await onRecord(r);
  };

  let columns: { ts: number; device: number; features: number[]; names: string[] } | undefined;
  for await (const { line, cells } of readCsv(file)) {
    if (!columns) {
      columns = mapHeader(cells.map((c) => c.trim()), features, file);
      continue;
    }
    summary.rows++;
    const bad = (code: string, message: string, column: string | undefined, expected: string, found: string): void => {
      const err = new EdgeLstmError('E_CSV', formatWithDetails(message, { file, line, column, expected, found }), { file, line, column, expected, found });
      if (!opts.skipInvalid) throw err;
      queue.push({ line, p: Promise.resolve({ line, error: { line, column, code, message: err.message } }) });
    };
    const tsCell = cells[columns.ts];
    const ts = tsCell === undefined ? NaN : parseTimestamp(tsCell);
    const device = columns.device >= 0 ? (cells[columns.device] ?? '').trim() : (opts.device ?? file);
    const values = columns.features.map((i) => Number((cells[i] ?? '').trim() === '' ? NaN : cells[i]));
    const badValue = values.findIndex((v) => !Number.isFinite(v));
    if (cells.length < columns.names.length) bad('E_CSV', 'row has too few cells', undefined, `${columns.names.length} cells`, `${cells.length}`);
    else if (!Number.isFinite(ts)) bad('E_BAD_TIMESTAMP', 'timestamp is neither epoch milliseconds nor ISO 8601', 'timestamp', 'epoch ms or ISO 8601', JSON.stringify(tsCell));
    else if (device === '') bad('E_BAD_DEVICE', 'device is empty', 'device', 'a device id', '""');
    else if (badValue >= 0) bad('E_BAD_VALUE', 'value is not a finite number', features[badValue], 'a number', JSON.stringify(cells[columns.features[badValue]!]));
    else {
      devices.add(device);
      const p = engine.push({ device, ts, values }).then(
        (result): ReplayRecord => ({ line, result }),
        (e: EdgeLstmError): ReplayRecord => {
          if (!opts.skipInvalid) throw e;
          return { line, error: { line, column: undefined, code: e.code, message: e.message } };
        },
      );
      p.catch(() => undefined); // awaited in order below; this only keeps Node from calling it unhandled meanwhile
      queue.push({ line, p });
    }
    if (queue.length >= inFlightLimit) await drainOne();
  }
  if (!columns) throw new EdgeLstmError('E_CSV', `${file}: the file is empty; expected a header line with timestamp and ${features.join(', ')}`, { file });
  while (queue.length) await drainOne();
  summary.devices = devices.size;
  return summary;
}

function mapHeader(names: string[], features: readonly string[], file: string): { ts: number; device: number; features: number[]; names: string[] } {
  const ts = names.indexOf('timestamp');
  if (ts < 0) {
    throw new EdgeLstmError('E_CSV', formatWithDetails('no timestamp column', { file, line: 1, column: 'timestamp', expected: 'a column named "timestamp"', found: names.join(',') }), { file, line: 1, column: 'timestamp' });
  }
  const missing = features.filter((f) => !names.includes(f));
  if (missing.length) {
    throw new EdgeLstmError('E_CSV', formatWithDetails('the model\'s feature columns are missing', { file, line: 1, column: missing.join(', '), expected: `columns ${features.join(', ')}`, found: names.join(',') }), { file, line: 1, column: missing.join(', ') });
  }
  return { ts, device: names.indexOf('device'), features: features.map((f) => names.indexOf(f)), names };
}
