import t from 'tap';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { groupForecastAccuracy } from '../../runtime/eval/forecast-metrics';
import { runCorpus } from '../../runtime/eval/harness';
import { readWindowLabels } from '../../runtime/eval/labels';
import { listNabFiles, loadNabFile, readProfiles, resolveNabPaths, selectFiles } from '../../runtime/eval/nab-corpus';
import { evaluateNab } from '../../runtime/eval/nab-evaluation';
import { renderReport } from '../../runtime/eval/report';
import { EngineDetector } from '../../runtime/eval/engine-detector';
import { controlModel } from '../../runtime/eval/control-models';
import { HAVE_NAB, NAB_DIR, NO_NAB, skipUnless } from './nab-dir';
import { decodePng } from './png';

const CHROMIUM = process.env['EDGELSTM_CHROMIUM'] ?? '/usr/bin/chromium';
const SUBSET = ['art_daily_jumpsup.csv', 'realKnownCause/nyc_taxi.csv', 'realAWSCloudwatch/ec2_cpu_utilization_c6585a.csv'];
export const SCREENSHOT = '/tmp/edgelstm-eval-report.png';

/** The few DOM members the in-page check uses: the project compiles without the DOM lib, and should stay so. */
interface PageElement {
  querySelector(selector: string): PageElement | null;
  querySelectorAll(selector: string): ArrayLike<PageElement>;
  getBoundingClientRect(): { width: number };
  getBBox(): { width: number; height: number };
  readonly points: { numberOfItems: number };
}

const skip = skipUnless(HAVE_NAB, NO_NAB) || skipUnless(existsSync(CHROMIUM), `no chromium at ${CHROMIUM} (apt-get install -y chromium, or set EDGELSTM_CHROMIUM)`);

async function buildReport(): Promise<{ html: string; files: number; windows: number }> {
  const paths = resolveNabPaths(NAB_DIR);
  const labels = readWindowLabels(paths.labelsFile);
  const keys = selectFiles(listNabFiles(paths.dataDir), SUBSET);
  const runs = await runCorpus(new EngineDetector('engine-zscore', controlModel('mean')), keys, (k) => loadNabFile(paths, labels, k));
  const outcomes = evaluateNab(runs, readProfiles(paths.profilesFile));
  const html = renderReport({ detector: 'zscore-likelihood', dataDir: paths.dataDir, runs, outcomes, forecastGroups: groupForecastAccuracy(runs.map((r) => r.forecastAccuracy)), elapsedMs: 1 });
  return { html, files: runs.length, windows: runs.reduce((s, r) => s + r.file.windows.length, 0) };
}

t.test('the report is self-contained', { skip: skipUnless(HAVE_NAB, NO_NAB) }, async (t) => {
  const { html } = await buildReport();
  t.notMatch(html, /<script|<link|@import|@font-face|url\(|https?:\/\//i, 'no scripts, stylesheets, fonts or network references');
  t.match(html, /<table class="scores">/);
  t.match(html, /<table class="forecast">/);
  t.match(html, /<table class="categories">[\s\S]*<td>realKnownCause<\/td><td>1<\/td><td>\d\/5<\/td>/, 'NAB outcome by category');
});

t.test('the report renders in headless chromium: every chart drew, no console errors', { skip, timeout: 60_000 }, async (t) => {
  const { html, files, windows } = await buildReport();
  const file = join(mkdtempSync(join(tmpdir(), 'edgelstm-report-')), 'report.html');
  writeFileSync(file, html);
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  t.teardown(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1000, height: 900 } });
  const problems: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  const requests: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });

  const stats = await page.evaluate(() => {
    const document = (globalThis as unknown as { document: PageElement }).document;
    const charts = Array.from(document.querySelectorAll('svg.chart'));
    return {
      charts: charts.length,
      drawn: charts.map((svg) => {
        const values = svg.querySelector('polyline.values');
        const score = svg.querySelector('polyline.score');
        const box = values?.getBBox();
        return {
          valuePoints: values?.points.numberOfItems ?? 0,
          scorePoints: score?.points.numberOfItems ?? 0,
          forecast: svg.querySelectorAll('polyline.forecast').length,
          width: box?.width ?? 0,
          height: box?.height ?? 0,
          windows: svg.querySelectorAll('rect.window').length,
          rendered: svg.getBoundingClientRect().width,
        };
      }),
      tables: document.querySelectorAll('table').length,
      scoreRows: document.querySelectorAll('table.scores tbody tr').length,
    };
  });
  t.equal(stats.charts, files, 'one chart per file');
  t.equal(stats.tables, 4, 'scores, NAB by category, forecast by category, per file');
  t.equal(stats.scoreRows, 3, 'one row per profile');
  t.equal(stats.drawn.reduce((s, d) => s + d.windows, 0), windows, 'every labelled window shaded');
  for (const d of stats.drawn) {
    t.ok(d.valuePoints > 100 && d.scorePoints > 100, `lines have points (${d.valuePoints}, ${d.scorePoints})`);
    t.equal(d.forecast, 1, 'forecast line');
    t.ok(d.width > 800 && d.height > 20, `values span the chart (${d.width.toFixed(0)} x ${d.height.toFixed(0)})`);
    t.ok(d.rendered > 500, 'laid out on the page');
  }

  // Pixels: the first chart must hold ink in the value, window and score colours, not just a white box.
  const chart = page.locator('svg.chart').first();
  await chart.scrollIntoViewIfNeeded();
  const png = decodePng(await chart.screenshot());
  let ink = 0;
  let blue = 0;
  let purple = 0;
  let amber = 0;
  for (let i = 0; i < png.data.length; i += png.channels) {
    const [r, g, b] = [png.data[i]!, png.data[i + 1]!, png.data[i + 2]!];
    if (r < 240 || g < 240 || b < 240) ink++;
    if (b > 150 && r < 80 && g < 150) blue++; // values #1565c0
    if (r > 80 && r < 140 && g < 60 && b > 120) purple++; // score #6a1b9a
    if (r > 240 && g > 200 && b < 200) amber++; // window #ffd54f at 45%
  }
  const total = png.width * png.height;
  t.ok(ink / total > 0.05, `non-blank: ${((100 * ink) / total).toFixed(1)}% of pixels inked`);
  t.ok(blue > 200, `value line drawn (${blue} px)`);
  t.ok(purple > 100, `score line drawn (${purple} px)`);
  t.ok(amber > 1000, `window shaded (${amber} px)`);

  await page.screenshot({ path: SCREENSHOT, fullPage: true });
  t.ok(existsSync(SCREENSHOT), `screenshot saved to ${SCREENSHOT}`);
  t.same(problems, [], 'no console errors or warnings');
  t.same(requests.filter((u) => !u.startsWith('file:')), [], 'no network requests');
});
