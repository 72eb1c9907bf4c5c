import type { Result } from '../engine/sample';
import { csvField } from './csv';

export type OutputFormat = 'jsonl' | 'csv';

export function formatFromPath(path: string): OutputFormat {
  return /\.csv$/i.test(path) ? 'csv' : 'jsonl';
}

/** CSV columns for results: one column per target and forecast step, so the file opens cleanly in a spreadsheet. */
export function csvHeader(features: readonly string[], targets: readonly string[], horizon: number): string {
  const cols = ['line', 'device', 'ts', ...features.map((f) => `value_${f}`), ...targets.map((t) => `expected_${t}`), ...targets.map((t) => `error_${t}`), 'score', 'likelihood', 'anomaly', 'anomalous', 'episode', 'episode_peak', 'episode_readings', 'warmup'];
  for (let h = 1; h <= horizon; h++) for (const t of targets) cols.push(horizon === 1 ? `forecast_${t}` : `forecast${h}_${t}`);
  cols.push('model', 'error_code', 'error_message');
  return cols.join(',');
}

export function csvRow(line: number, r: Result, targets: number): string {
  const pad = (a: number[] | null, n: number): (number | null)[] => a ?? new Array<null>(n).fill(null);
  const t = targets;
  return [line, r.device, r.ts, ...r.values, ...pad(r.expected, t), ...pad(r.error, t), r.score, r.likelihood, r.anomaly, r.anomalous.join(' '), r.episode?.state ?? '', r.episode?.peak ?? '', r.episode?.readings ?? '', r.warmup, ...r.forecast, r.model, '', '']
    .map((v) => csvField(v))
    .join(',');
}

export function csvErrorRow(line: number, columns: number, code: string, message: string): string {
  const cells = new Array<string>(columns).fill('');
  cells[0] = String(line);
  cells[columns - 2] = code;
  cells[columns - 1] = csvField(message);
  return cells.join(',');
}
