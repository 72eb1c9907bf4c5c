/** Plain-text tables for the terminal: the same figures as the HTML report. */
import type { FileForecastAccuracy, GroupForecastAccuracy } from './forecast-metrics';
import type { ProfileOutcome } from './nab-evaluation';

const num = (x: number | undefined, digits = 3): string => (x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(digits));

function columns(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (r: readonly string[]): string => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ').trimEnd();
  return [line(head), ...rows.map(line)].join('\n');
}

export function scoreText(outcomes: readonly ProfileOutcome[]): string {
  return columns(
    ['profile', 'threshold', 'raw', 'NAB score', 'windows', 'FP rows', 'nines'],
    // Thresholds near 1 print in full and as nines (-log10(1 - threshold)): the detector's likelihoods differ past the 8th digit.
    outcomes.map((o) => [o.profile.name, Number.isFinite(o.score.threshold) ? String(o.score.threshold) : 'none', num(o.score.raw), num(o.score.normalized, 2), `${o.score.detectedWindows}/${o.score.windows}`, String(o.score.falseAlarmRows), nines(o.score.threshold)]),
  );
}

const HEAD = ['MASE det', 'MASE pers', 'MASE seas', 'sMAPE det', 'sMAPE pers', 'sMAPE seas'];

export function forecastGroupText(groups: readonly GroupForecastAccuracy[]): string {
  return columns(
    ['category', 'files', ...HEAD],
    groups.map((g) => [g.group, String(g.files), num(g.methods.detector?.mase), num(g.methods.persistence?.mase), num(g.methods.seasonal?.mase), num(g.methods.detector?.smape, 2), num(g.methods.persistence?.smape, 2), num(g.methods.seasonal?.smape, 2)]),
  );
}

export function forecastFileText(files: readonly FileForecastAccuracy[]): string {
  return columns(
    ['file', 'rows', ...HEAD],
    files.map((f) => [f.file, String(f.rows), num(f.methods.detector?.mase), num(f.methods.persistence?.mase), num(f.methods.seasonal?.mase), num(f.methods.detector?.smape, 2), num(f.methods.persistence?.smape, 2), num(f.methods.seasonal?.smape, 2)]),
  );
}

function nines(threshold: number): string {
  return Number.isFinite(threshold) && threshold >= 0.9 && threshold < 1 ? (-Math.log10(1 - threshold)).toFixed(2) : '-';
}
