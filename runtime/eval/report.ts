/** `--report report.html`: one self-contained page (inline SVG and CSS, no scripts, fonts or network). */
import type { GroupForecastAccuracy, MethodAccuracy } from './forecast-metrics';
import type { FileRun } from './harness';
import type { ProfileOutcome } from './nab-evaluation';
import { CHART_CSS, escapeHtml, renderFileChart } from './report-chart';

export interface ReportInput {
  readonly detector: string;
  readonly dataDir: string;
  readonly runs: readonly FileRun[];
  readonly outcomes: readonly ProfileOutcome[];
  readonly forecastGroups: readonly GroupForecastAccuracy[];
  readonly elapsedMs: number;
  /** Set when scored at a fixed threshold rather than NAB's sweep. */
  readonly fixedThreshold?: number | undefined;
}

const num = (x: number | undefined, digits = 3): string => (x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(digits));
const thr = (t: number): string => (Number.isFinite(t) ? t.toPrecision(8) : 'none (above 1)');

function table(head: readonly string[], rows: readonly (readonly string[])[], cls = ''): string {
  const th = head.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const body = rows.map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`).join('\n');
  return `<table class="${cls}"><thead><tr>${th}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

function scoreTable(outcomes: readonly ProfileOutcome[]): string {
  return table(
    ['profile', 'threshold', 'raw score', 'NAB score', 'windows detected', 'false-alarm rows'],
    outcomes.map((o) => [o.profile.name, thr(o.score.threshold), num(o.score.raw), num(o.score.normalized, 2), `${o.score.detectedWindows}/${o.score.windows}`, String(o.score.falseAlarmRows)]),
    'scores',
  );
}

/** Where the detector wins and loses: the standard profile's outcome summed per category. */
function categoryTable(standard: ProfileOutcome | undefined): string {
  if (!standard) return '';
  const cats = new Map<string, { files: number; windows: number; detected: number; fp: number; raw: number }>();
  for (const f of standard.files) {
    const c = f.file.split('/')[0]!;
    const a = cats.get(c) ?? { files: 0, windows: 0, detected: 0, fp: 0, raw: 0 };
    cats.set(c, { files: a.files + 1, windows: a.windows + f.windows, detected: a.detected + f.detectedWindows, fp: a.fp + f.falseAlarmRows, raw: a.raw + f.raw });
  }
  return table(
    ['category', 'files', 'windows detected', 'false-alarm rows', 'raw score (standard)'],
    [...cats].map(([c, a]) => [c, String(a.files), `${a.detected}/${a.windows}`, String(a.fp), num(a.raw)]),
    'categories',
  );
}

function forecastGroupTable(groups: readonly GroupForecastAccuracy[]): string {
  return table(
    ['category', 'files', 'MASE detector', 'MASE persistence', 'MASE seasonal', 'sMAPE detector %', 'sMAPE persistence %', 'sMAPE seasonal %'],
    groups.map((g) => [g.group, String(g.files), num(g.methods.detector?.mase), num(g.methods.persistence?.mase), num(g.methods.seasonal?.mase), num(g.methods.detector?.smape, 2), num(g.methods.persistence?.smape, 2), num(g.methods.seasonal?.smape, 2)]),
    'forecast',
  );
}

function fileTable(runs: readonly FileRun[], standard: ProfileOutcome | undefined): string {
  const m = (a: MethodAccuracy | undefined, k: 'mase' | 'smape'): string => num(a?.[k], k === 'mase' ? 3 : 2);
  return table(
    ['file', 'rows', 'windows', 'detected', 'false alarms', 'raw (standard)', 'MASE det', 'MASE persist', 'MASE seasonal', 'sMAPE det %', 'sMAPE persist %', 'sMAPE seasonal %'],
    runs.map((r, i) => {
      const o = standard?.files[i];
      const f = r.forecastAccuracy.methods;
      return [r.file.key, String(r.scores.length), String(r.file.windows.length), o ? String(o.detectedWindows) : '', o ? String(o.falseAlarmRows) : '', o ? num(o.raw) : '', m(f.detector, 'mase'), m(f.persistence, 'mase'), m(f.seasonal, 'mase'), m(f.detector, 'smape'), m(f.persistence, 'smape'), m(f.seasonal, 'smape')];
    }),
    'files',
  );
}

export function renderReport(input: ReportInput): string {
  const standard = input.outcomes.find((o) => o.profile.name === 'standard') ?? input.outcomes[0];
  const threshold = standard?.score.threshold ?? Infinity;
  const rows = input.runs.reduce((s, r) => s + r.scores.length, 0);
  const charts = input.runs
    .map((r, i) => `<section class="file"><h3>${escapeHtml(r.file.key)}</h3>${renderFileChart(r, threshold, `chart-${i}`)}</section>`)
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>edgelstm NAB evaluation: ${escapeHtml(input.detector)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.4 sans-serif;margin:24px;color:#222;max-width:1000px}
table{border-collapse:collapse;margin:8px 0 20px;font-size:12px}
th,td{border:1px solid #ccc;padding:3px 6px;text-align:right}
th:first-child,td:first-child{text-align:left}
th{background:#f4f4f4}
.legend span{display:inline-block;margin-right:14px}
.sw{display:inline-block;width:14px;height:10px;margin-right:4px;vertical-align:middle}
${CHART_CSS}
</style></head><body>
<h1>NAB evaluation: ${escapeHtml(input.detector)}</h1>
<p>${input.runs.length} files, ${rows} rows from <code>${escapeHtml(input.dataDir)}</code>, run in ${(input.elapsedMs / 1000).toFixed(1)} s.
Each file streamed in row order through one detector reset per file, no look-ahead, one parameter set.
${input.fixedThreshold === undefined ? "Thresholds are NAB's: per profile, the single corpus-wide threshold that maximises the score (tuned on this data, so optimistic by construction)." : `Scored at the fixed threshold ${input.fixedThreshold}.`}</p>
<h2>NAB scores</h2>
${scoreTable(input.outcomes)}
<p>For scale (NAB v1.1 scoreboard, standard profile): Numenta HTM 70.10, best published online LSTM 51.3, never firing 0.</p>
<h3>By category (standard profile threshold)</h3>
${categoryTable(standard)}
<h2>Forecast accuracy (one step ahead)</h2>
<p>Rows past NAB's probationary period. MASE scale: mean absolute one-step change over the probationary period. Seasonal naive: the value one day earlier (one week for daily data), by timestamp.</p>
${forecastGroupTable(input.forecastGroups)}
<h2>Per file (standard profile threshold)</h2>
${fileTable(input.runs, standard)}
<h2>Charts</h2>
<p class="legend"><span><i class="sw" style="background:#1565c0"></i>value</span><span><i class="sw" style="background:#2e7d32"></i>forecast</span><span><i class="sw" style="background:#6a1b9a"></i>anomaly score</span><span><i class="sw" style="background:#d32f2f"></i>alarm (standard threshold)</span><span><i class="sw" style="background:#ffd54f"></i>labelled window</span><span><i class="sw" style="background:#eee"></i>probationary period</span></p>
${charts}
</body></html>
`;
}
