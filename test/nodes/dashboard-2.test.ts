/**
 * Node-RED Dashboard 2 (@flowfuse/node-red-dashboard, a devDependency) with
 * examples/dashboard-2.json, in a real Node-RED and Debian's Chromium
 * (playwright-core): the three pumps' charts draw the reading, the forecast
 * and pump-2's anomaly episode, the device table lists the pumps and counts
 * the episode, and the page logs no console errors.
 * EDGELSTM_SCREENSHOTS=1 writes docs/images/dashboard-2.png (for the README).
 */
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import t from 'tap';
import { tempDir } from '../helpers/models';
import { edgelstmWarnings, freePort, NODE_RED_DIR, ROOT, startNodeRed } from './node-red-process';

const CHROMIUM = '/usr/bin/chromium';
const DASHBOARD = join(ROOT, 'node_modules', '@flowfuse', 'node-red-dashboard');
const INJECT = 'd201c0f0d1b2c3d5'; // the 100 ms inject of examples/dashboard-2.json
/** The ui-chart nodes of pump-1, pump-2, pump-3 in examples/dashboard-2.json. */
const CHARTS = ['d209c0f0d1b2c3d5', 'd20ac0f0d1b2c3d5', 'd20bc0f0d1b2c3d5'];
const skip = !existsSync(CHROMIUM) ? `${CHROMIUM} not installed` : !existsSync(DASHBOARD) ? '@flowfuse/node-red-dashboard not installed (npm ci)' : false;

/** Pixels of each device's chart canvas (or SVG marks) in the colour `hex`, in CHARTS order. */
async function colourCounts(page: Page, hex: string): Promise<number[]> {
  return page.evaluate(({ hex, ids }) => {
    const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
    return ids.map((id) => {
      const c = document.getElementById(`nrdb-ui-widget-${id}`);
      if (!c) return -1;
      let n = c.querySelectorAll(`[stroke="${hex}" i], [fill="${hex}" i]`).length;
      for (const canvas of Array.from(c.querySelectorAll('canvas'))) {
        const ctx = canvas.getContext('2d');
        if (!ctx || canvas.width === 0) continue;
        const d = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
        for (let i = 0; i < d.length; i += 4) if (Math.abs(d[i]! - r!) < 8 && Math.abs(d[i + 1]! - g!) < 8 && Math.abs(d[i + 2]! - b!) < 8 && d[i + 3]! > 200) n++;
      }
      return n;
    });
  }, { hex, ids: CHARTS });
}

t.test('Dashboard 2: a chart per device with forecast and anomaly episodes, a device table, no console errors', { skip }, async (t) => {
  if (!existsSync(join(ROOT, 'dist/nodes/edgelstm-anomaly/edgelstm-anomaly.js'))) throw new Error('run `npm run build` first (npm test does)');
  const dir = tempDir('edgelstm-nr-dashboard-');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const userDir = join(dir, 'user');
  mkdirSync(join(userDir, 'node_modules', '@flowfuse'), { recursive: true });
  symlinkSync(ROOT, join(userDir, 'node_modules', 'edgelstm'), 'dir');
  symlinkSync(DASHBOARD, join(userDir, 'node_modules', '@flowfuse', 'node-red-dashboard'), 'dir');
  const flows = JSON.parse(readFileSync(join(ROOT, 'examples/dashboard-2.json'), 'utf8')) as Record<string, unknown>[];
  // Twice the example's pace, so pump-2's first spike (tick 300) comes after 15 s rather than 30.
  writeFileSync(join(userDir, 'flows.json'), JSON.stringify(flows.map((n) => (n['id'] === INJECT ? { ...n, repeat: '0.05' } : n))));
  const nr = await startNodeRed(userDir, await freePort());
  t.teardown(() => nr.stop());
  const versions = [NODE_RED_DIR, DASHBOARD].map((d) => (JSON.parse(readFileSync(join(d, 'package.json'), 'utf8')) as { version: string }).version);
  t.comment(`Node-RED ${versions[0]}, Dashboard 2 ${versions[1]}, Node ${process.version}`);
  t.match(nr.log(), /Dashboard/i, 'Node-RED loaded Dashboard 2');

  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  t.teardown(() => browser.close());
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
  const elsewhere: string[] = [];
  await ctx.route('**/*', (route) => {
    if (route.request().url().startsWith(nr.url)) return route.continue();
    elsewhere.push(route.request().url());
    return route.abort();
  });
  const page = await ctx.newPage();
  const consoleErrors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(e.message));
  await page.goto(`${nr.url}/dashboard/fleet`, { timeout: 120_000 });

  await page.waitForSelector('.nrdb-ui-widget.nrdb-ui-chart canvas', { timeout: 60_000 });
  t.equal(await page.locator('.nrdb-ui-widget.nrdb-ui-chart').count(), 3, 'a chart per device');
  for (const id of CHARTS) t.equal(await page.locator(`#nrdb-ui-widget-${id} canvas`).count(), 1, `chart ${id} drawn (ECharts canvas)`);

  // The table: every pump, and pump-2's episode counted once the spike has come.
  await page.waitForFunction(() => document.querySelectorAll('.nrdb-ui-table tbody tr').length >= 3, undefined, { timeout: 60_000 });
  const rowOf = (device: string): Promise<string[]> =>
    page.$$eval('.nrdb-ui-table tbody tr', (rs, device) => rs.map((r) => Array.from(r.querySelectorAll('td')).map((td) => td.textContent?.trim() ?? '')).find((cells) => cells[0] === device) ?? [], device);
  const devices = await page.$$eval('.nrdb-ui-table tbody tr', (rs) => rs.map((r) => r.querySelector('td')?.textContent?.trim()));
  t.same([...devices].sort(), ['pump-1', 'pump-2', 'pump-3'], 'the table lists the devices');
  await page.waitForFunction(() => Array.from(document.querySelectorAll('.nrdb-ui-table tbody tr')).some((r) => {
    const cells = Array.from(r.querySelectorAll('td')).map((td) => td.textContent?.trim() ?? '');
    return cells[0] === 'pump-2' && Number(cells[6]) >= 1;
  }), undefined, { timeout: 90_000, polling: 500 });
  t.ok(Number((await rowOf('pump-2'))[6]) >= 1, 'pump-2\'s anomaly episode is counted in the table');
  t.equal((await rowOf('pump-1'))[6], '0', 'pump-1: none');
  t.match((await rowOf('pump-1'))[3] ?? '', /^\d+(\.\d+)?$/, 'the forecast column holds a number');

  // The charts: reading and forecast on every chart, the anomaly series on pump-2's.
  await page.waitForTimeout(1500);
  const value = await colourCounts(page, '#1f5fbf');
  const forecast = await colourCounts(page, '#e07b00');
  const anomaly = await colourCounts(page, '#d62828');
  t.comment(`chart pixels: value ${value.join('/')}, forecast ${forecast.join('/')}, anomaly ${anomaly.join('/')}`);
  t.ok(value.every((n) => n > 50), 'every chart draws the readings');
  t.ok(forecast.every((n) => n > 50), 'every chart draws the forecast');
  t.ok(anomaly[1]! > 10, 'pump-2\'s chart draws its anomaly episode');
  t.ok(anomaly[0] === 0 && anomaly[2] === 0, 'the others draw none (nor list the series in their legend)');

  const shots = process.env['EDGELSTM_SCREENSHOTS'] === '1' ? join(ROOT, 'docs/images') : dir;
  mkdirSync(shots, { recursive: true });
  await page.screenshot({ path: join(shots, 'dashboard-2.png'), timeout: 90_000 });
  t.equal(readFileSync(join(shots, 'dashboard-2.png')).subarray(1, 4).toString(), 'PNG', 'screenshot saved');

  t.same(consoleErrors, [], 'no console errors');
  t.same(elsewhere, [], 'nothing fetched from outside Node-RED');
  await nr.stop();
  t.same(edgelstmWarnings(nr.log()), [], 'no warnings from the edgelstm nodes');
});
