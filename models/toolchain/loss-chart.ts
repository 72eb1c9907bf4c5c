import type { EpochReport } from './train';

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * The loss curve as one self-contained HTML page (inline SVG, no scripts, no
 * network): training and validation loss per epoch, the best epoch marked.
 * The y axis is logarithmic when every loss is positive, since losses fall by
 * orders of magnitude early and the late epochs are what one wants to read.
 */
export function lossChartHtml(title: string, history: readonly EpochReport[], bestEpoch: number, lossName: string): string {
  const W = 720;
  const H = 360;
  const m = { l: 70, r: 20, t: 30, b: 45 };
  const pw = W - m.l - m.r;
  const ph = H - m.t - m.b;
  const all = history.flatMap((h) => (h.valLoss === null ? [h.trainLoss] : [h.trainLoss, h.valLoss])).filter(Number.isFinite);
  const log = all.length > 0 && all.every((v) => v > 0);
  const f = (v: number): number => (log ? Math.log10(v) : v);
  let lo = all.length ? Math.min(...all.map(f)) : 0;
  let hi = all.length ? Math.max(...all.map(f)) : 1;
  if (hi - lo < 1e-12) (lo -= 0.5), (hi += 0.5);
  const n = history.length;
  const x = (e: number): number => m.l + (n <= 1 ? pw / 2 : ((e - 1) / (n - 1)) * pw);
  const y = (v: number): number => m.t + ph - ((f(v) - lo) / (hi - lo)) * ph;
  const path = (pick: (h: EpochReport) => number | null): string =>
    history
      .map((h) => [h.epoch, pick(h)] as const)
      .filter((p): p is readonly [number, number] => p[1] !== null && Number.isFinite(p[1]))
      .map(([e, v], i) => `${i === 0 ? 'M' : 'L'}${x(e).toFixed(1)},${y(v).toFixed(1)}`)
      .join(' ');
  const ticks: string[] = [];
  for (let i = 0; i <= 4; i++) {
    const tv = lo + ((hi - lo) * i) / 4;
    const v = log ? Math.pow(10, tv) : tv;
    const ty = m.t + ph - (i / 4) * ph;
    ticks.push(`<line x1="${m.l}" x2="${m.l + pw}" y1="${ty.toFixed(1)}" y2="${ty.toFixed(1)}" stroke="#ddd"/><text x="${m.l - 6}" y="${(ty + 4).toFixed(1)}" text-anchor="end">${esc(v.toPrecision(3))}</text>`);
  }
  const step = Math.max(1, Math.ceil(n / 10));
  for (let e = 1; e <= n; e += step) ticks.push(`<text x="${x(e).toFixed(1)}" y="${m.t + ph + 18}" text-anchor="middle">${e}</text>`);
  const best = history.find((h) => h.epoch === bestEpoch);
  const bestMark = best ? `<line x1="${x(bestEpoch).toFixed(1)}" x2="${x(bestEpoch).toFixed(1)}" y1="${m.t}" y2="${m.t + ph}" stroke="#999" stroke-dasharray="4 3"/><text x="${(x(bestEpoch) + 4).toFixed(1)}" y="${m.t + 12}">best: epoch ${bestEpoch}</text>` : '';
  const hasVal = history.some((h) => h.valLoss !== null);
  const rows = history.map((h) => `<tr><td>${h.epoch}</td><td>${h.trainLoss.toPrecision(5)}</td><td>${h.valLoss === null ? '' : h.valLoss.toPrecision(5)}</td><td>${h.seconds.toFixed(1)}</td></tr>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}: loss</title>
<style>body{font:14px system-ui,sans-serif;margin:24px;color:#222}svg text{font:12px system-ui,sans-serif;fill:#444}table{border-collapse:collapse;margin-top:16px}td,th{padding:2px 10px;text-align:right;border-bottom:1px solid #eee}</style></head>
<body><h1>${esc(title)}</h1><p>${esc(lossName)} per epoch${log ? ' (log scale)' : ''}.</p>
<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="loss curve">
${ticks.join('\n')}
<line x1="${m.l}" x2="${m.l}" y1="${m.t}" y2="${m.t + ph}" stroke="#444"/><line x1="${m.l}" x2="${m.l + pw}" y1="${m.t + ph}" y2="${m.t + ph}" stroke="#444"/>
<text x="${m.l + pw / 2}" y="${H - 8}" text-anchor="middle">epoch</text>
${bestMark}
<path id="train" d="${path((h) => h.trainLoss)}" fill="none" stroke="#1f77b4" stroke-width="2"/>
${hasVal ? `<path id="val" d="${path((h) => h.valLoss)}" fill="none" stroke="#d62728" stroke-width="2"/>` : ''}
<rect x="${m.l + pw - 150}" y="${m.t + 6}" width="12" height="3" fill="#1f77b4"/><text x="${m.l + pw - 132}" y="${m.t + 12}">training</text>
${hasVal ? `<rect x="${m.l + pw - 150}" y="${m.t + 22}" width="12" height="3" fill="#d62728"/><text x="${m.l + pw - 132}" y="${m.t + 28}">validation</text>` : ''}
</svg>
<table><tr><th>epoch</th><th>training</th><th>validation</th><th>seconds</th></tr>${rows}</table>
</body></html>
`;
}
