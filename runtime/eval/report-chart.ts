/**
 * One file's chart as inline SVG: values and forecasts on top, the anomaly
 * score below, labelled windows shaded, the probationary period greyed and
 * alarms (rows at or above the chosen threshold) as red ticks. The x axis is
 * the row index, as NAB's windows are. Long files are reduced to a min/max
 * envelope per pixel column so spikes stay visible and the page stays small.
 */
import type { FileRun } from './harness';

const W = 900;
const H_TOP = 140;
const H_BOTTOM = 60;
const GAP = 14;
const PAD_L = 8;
const PAD_R = 8;
const H = H_TOP + GAP + H_BOTTOM + 18;
/** Envelope columns: about one per two pixels. */
const BUCKETS = 440;

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const fmt = (x: number): string => (Math.round(x * 10) / 10).toString();

/** Min/max per bucket of the finite values; an empty bucket is skipped (a gap in the line is fine). */
function envelope(ys: ArrayLike<number>, x: (i: number) => number, y: (v: number) => number): string {
  const n = ys.length;
  const per = Math.max(1, Math.ceil(n / BUCKETS));
  const pts: string[] = [];
  for (let b = 0; b * per < n; b++) {
    let lo = Infinity;
    let hi = -Infinity;
    let loAt = 0;
    let hiAt = 0;
    for (let i = b * per; i < Math.min(n, (b + 1) * per); i++) {
      const v = ys[i]!;
      if (!Number.isFinite(v)) continue;
      if (v < lo) [lo, loAt] = [v, i];
      if (v > hi) [hi, hiAt] = [v, i];
    }
    if (lo === Infinity) continue;
    // Keep the two extremes in row order so the line reads left to right.
    const first = loAt <= hiAt ? lo : hi;
    const second = loAt <= hiAt ? hi : lo;
    const xb = x(b * per + per / 2);
    pts.push(`${fmt(xb)},${fmt(y(first))}`);
    if (second !== first) pts.push(`${fmt(xb)},${fmt(y(second))}`);
  }
  return pts.join(' ');
}

export function renderFileChart(run: FileRun, threshold: number, id: string): string {
  const { values } = run.file.series;
  const n = values.length;
  const x = (i: number): number => PAD_L + (i / Math.max(1, n - 1)) * (W - PAD_L - PAD_R);
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < n; i++) {
    lo = Math.min(lo, values[i]!);
    hi = Math.max(hi, values[i]!);
  }
  if (!(hi > lo)) [lo, hi] = [lo - 1, hi + 1];
  const yTop = (v: number): number => 4 + (1 - (Math.min(Math.max(v, lo), hi) - lo) / (hi - lo)) * (H_TOP - 8);
  const y0 = H_TOP + GAP;
  const yScore = (s: number): number => y0 + (1 - s) * H_BOTTOM;

  const parts: string[] = [];
  parts.push(`<rect class="probation" x="${fmt(x(0))}" y="0" width="${fmt(x(run.sweep.probation) - x(0))}" height="${y0 + H_BOTTOM}"/>`);
  for (const w of run.file.windows) {
    parts.push(`<rect class="window" x="${fmt(x(w.start))}" y="0" width="${fmt(Math.max(1, x(w.end) - x(w.start)))}" height="${y0 + H_BOTTOM}"/>`);
  }
  parts.push(`<polyline class="values" points="${envelope(values, x, yTop)}"/>`);
  if (run.forecasts.some((f) => Number.isFinite(f))) parts.push(`<polyline class="forecast" points="${envelope(run.forecasts, x, yTop)}"/>`);
  parts.push(`<line class="axis" x1="${PAD_L}" x2="${W - PAD_R}" y1="${y0 + H_BOTTOM}" y2="${y0 + H_BOTTOM}"/>`);
  if (Number.isFinite(threshold)) parts.push(`<line class="threshold" x1="${PAD_L}" x2="${W - PAD_R}" y1="${fmt(yScore(threshold))}" y2="${fmt(yScore(threshold))}"/>`);
  parts.push(`<polyline class="score" points="${envelope(run.scores, x, yScore)}"/>`);
  // One tick per pixel column at most: thousands of alarm rows would otherwise bloat the page.
  const ticks = new Set<number>();
  for (let i = run.sweep.probation; i < n; i++) if (run.scores[i]! >= threshold) ticks.add(Math.round(x(i)));
  for (const tx of ticks) parts.push(`<line class="alarm" x1="${tx}" x2="${tx}" y1="${y0}" y2="${y0 + H_BOTTOM}"/>`);
  const ts = run.file.series.timestamps;
  const when = (i: number): string => (n > 0 ? new Date(ts[i]!).toISOString().slice(0, 16).replace('T', ' ') : '');
  parts.push(`<text x="${PAD_L}" y="${H - 3}">${when(0)}</text><text x="${W - PAD_R}" y="${H - 3}" text-anchor="end">${when(n - 1)}</text>`);
  parts.push(`<text x="${PAD_L + 2}" y="${y0 - 3}" class="small">score (threshold ${Number.isFinite(threshold) ? threshold.toFixed(4) : 'none'})</text>`);
  return `<svg class="chart" id="${escapeHtml(id)}" data-file="${escapeHtml(run.file.key)}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${escapeHtml(run.file.key)}">${parts.join('')}</svg>`;
}

/** The chart styles, inlined once per page. */
export const CHART_CSS = `
svg.chart{display:block;background:#fff;border:1px solid #ddd;max-width:100%;height:auto}
svg.chart .probation{fill:#eee}
svg.chart .window{fill:#ffd54f;fill-opacity:.45}
svg.chart polyline{fill:none;stroke-width:1;stroke-linejoin:round}
svg.chart .values{stroke:#1565c0}
svg.chart .forecast{stroke:#2e7d32;stroke-opacity:.8}
svg.chart .score{stroke:#6a1b9a}
svg.chart .threshold{stroke:#c62828;stroke-dasharray:4 3}
svg.chart .alarm{stroke:#d32f2f;stroke-width:1.5}
svg.chart .axis{stroke:#999}
svg.chart text{font:11px sans-serif;fill:#555}
svg.chart text.small{font-size:10px}`;
