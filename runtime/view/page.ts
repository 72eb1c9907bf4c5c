import { PAGE_SCRIPT } from './page-script';

/**
 * The live view: one HTML document with its style and script inline and its
 * charts drawn as SVG by that script (no chart library, no CDN, no build
 * step): it works on a gateway with no Internet access.
 */
export function livePage(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>edgelstm live view</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body>
<header>
  <h1>edgelstm <span>live view</span></h1>
  <dl id="fleet">
    <div><dt>model</dt><dd id="f-model">-</dd></div>
    <div><dt>backend</dt><dd id="f-backend">-</dd></div>
    <div><dt>devices</dt><dd id="f-devices">-</dd></div>
    <div><dt>open episodes</dt><dd id="f-open">-</dd></div>
    <div><dt>results</dt><dd id="f-results">-</dd></div>
    <div><dt>errors</dt><dd id="f-errors">-</dd></div>
  </dl>
  <span id="conn" class="conn off" title="live updates">connecting</span>
</header>
<main>
  <section id="list">
    <input id="filter" type="search" placeholder="filter devices" autocomplete="off" spellcheck="false">
    <p id="shown" class="note"></p>
    <table id="devices"><thead><tr><th>device</th><th>value</th><th title="likelihood as nines: -log10(1 - likelihood)">nines</th><th>state</th><th>errors</th></tr></thead><tbody></tbody></table>
  </section>
  <section id="detail">
    <h2 id="d-name">choose a device</h2>
    <p id="d-note" class="note"></p>
    <div id="charts"></div>
    <h3>anomaly episodes</h3>
    <table id="episodes"><thead><tr><th>start</th><th>end</th><th>duration</th><th>peak (nines)</th><th>features</th></tr></thead><tbody></tbody></table>
    <p class="legend"><span class="k v"></span>reading <span class="k e"></span>forecast one step before <span class="k b"></span>band (forecast ± 3 × recent RMS error) <span class="k f"></span>latest forecast <span class="k a"></span>anomaly episode</p>
  </section>
</main>
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`;
}

const STYLE = `
:root { color-scheme: light; --fg: #1d2430; --muted: #667085; --line: #d0d5dd; --bg: #f7f8fa; --val: #1f5fbf; --exp: #e07b00; --band: rgba(224,123,0,.16); --anom: rgba(214,40,40,.16); --red: #c62828; }
* { box-sizing: border-box; }
body { margin: 0; font: 13px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; align-items: center; gap: 24px; padding: 10px 16px; background: #fff; border-bottom: 1px solid var(--line); }
h1 { font-size: 16px; margin: 0; white-space: nowrap; } h1 span { font-weight: 400; color: var(--muted); }
h2 { font-size: 15px; margin: 0 0 4px; } h3 { font-size: 13px; margin: 14px 0 4px; }
dl { display: flex; flex-wrap: wrap; gap: 18px; margin: 0; } dl div { display: flex; flex-direction: column; }
dt { color: var(--muted); font-size: 11px; text-transform: uppercase; letter-spacing: .03em; } dd { margin: 0; font-weight: 600; }
.conn { margin-left: auto; font-size: 12px; padding: 2px 8px; border-radius: 10px; background: #e7f6ec; color: #17653a; } .conn.off { background: #fdecea; color: var(--red); }
main { display: grid; grid-template-columns: minmax(300px, 420px) 1fr; gap: 12px; padding: 12px 16px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 10px 12px; min-width: 0; }
#filter { width: 100%; padding: 5px 8px; border: 1px solid var(--line); border-radius: 4px; font: inherit; }
table { border-collapse: collapse; width: 100%; } th, td { text-align: left; padding: 3px 6px; border-bottom: 1px solid #eef0f3; white-space: nowrap; }
th { color: var(--muted); font-weight: 500; font-size: 11px; }
#devices tbody tr { cursor: pointer; } #devices tbody tr:hover { background: #f2f5fa; } #devices tr.selected { background: #e6eefb; }
#devices td:first-child { max-width: 160px; overflow: hidden; text-overflow: ellipsis; }
.state-anomaly { color: var(--red); font-weight: 600; } .state-warmup { color: var(--muted); }
.note { color: var(--muted); margin: 4px 0; }
.chart { margin: 6px 0 2px; } .chart svg { width: 100%; height: auto; display: block; }
.chart .title { font-size: 12px; font-weight: 600; }
svg text { font-size: 10px; fill: var(--muted); } svg .grid { stroke: #eef0f3; } svg .axis { stroke: var(--line); }
svg .value { fill: none; stroke: var(--val); stroke-width: 1.6; } svg .expected { fill: none; stroke: var(--exp); stroke-width: 1.2; stroke-dasharray: 4 3; }
svg .band { fill: var(--band); stroke: none; } svg .forecast { fill: none; stroke: var(--exp); stroke-width: 1.4; stroke-dasharray: 1 3; }
svg .episode { fill: var(--anom); } svg .anomalous { fill: var(--red); } svg .lik { fill: none; stroke: #6941c6; stroke-width: 1.3; } svg .score { fill: none; stroke: #0e9384; stroke-width: 1.2; }
.legend { color: var(--muted); font-size: 12px; } .k { display: inline-block; width: 18px; height: 8px; margin: 0 4px 0 12px; vertical-align: middle; }
.k.v { border-top: 2px solid var(--val); } .k.e { border-top: 2px dashed var(--exp); } .k.b { background: var(--band); } .k.f { border-top: 2px dotted var(--exp); } .k.a { background: var(--anom); }
@media (max-width: 800px) { main { grid-template-columns: 1fr; } header { flex-wrap: wrap; } }
`;
