/**
 * The editor in Debian's Chromium (playwright-core, no downloaded browser):
 * the palette category, the anomaly node's edit dialog and its validation,
 * a screenshot of the running simulated flow, and no console errors.
 * EDGELSTM_SCREENSHOTS=1 writes the screenshots to docs/images/ (for the README).
 */
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Page } from 'playwright-core';
import t from 'tap';
import { tempDir } from '../helpers/models';
import { edgelstmWarnings, freePort, NODE_RED_DIR, ROOT, startNodeRed } from './node-red-process';

const CHROMIUM = '/usr/bin/chromium';
const ANOMALY_ID = 'a7f5c0f0d1b2c3d5'; // in examples/simulated-sensors.json

t.test('editor: palette, anomaly edit dialog, screenshot, no console errors', { skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} not installed` }, async (t) => {
  if (!existsSync(join(ROOT, 'dist/nodes/edgelstm-anomaly/edgelstm-anomaly.html'))) throw new Error('run `npm run build` first (npm test does)');
  const dir = tempDir('edgelstm-nr-editor-');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const userDir = join(dir, 'user');
  mkdirSync(join(userDir, 'node_modules'), { recursive: true });
  // The checkout, linked in as an installed module (the packed install is the e2e test's job).
  symlinkSync(ROOT, join(userDir, 'node_modules', 'edgelstm'), 'dir');
  writeFileSync(join(userDir, 'flows.json'), readFileSync(join(ROOT, 'examples/simulated-sensors.json')));
  const nr = await startNodeRed(userDir, await freePort());
  t.teardown(() => nr.stop());
  t.comment(`Node-RED ${(JSON.parse(readFileSync(join(NODE_RED_DIR, 'package.json'), 'utf8')) as { version: string }).version} on Node ${process.version}`);

  const shots = process.env['EDGELSTM_SCREENSHOTS'] === '1' ? join(ROOT, 'docs/images') : dir;
  mkdirSync(shots, { recursive: true });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  t.teardown(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1360, height: 640 } });
  const consoleErrors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(e.message));

  // A loaded 2-core machine can take tens of seconds to serve the editor's first load.
  await page.goto(nr.url, { timeout: 120_000 });
  await page.waitForSelector('#red-ui-palette-container-edgelstm .red-ui-palette-node', { timeout: 30_000 });
  // The editor is usable at once: no first-load dialog (Node-RED 4.1+ asks about update notifications) covers it.
  t.equal(await page.getByText('Enable Update Notifications').count(), 0, 'no update-notification dialog');
  const inCategory = await page.$$eval('#red-ui-palette-container-edgelstm .red-ui-palette-node', (els) => els.map((e) => e.getAttribute('data-palette-type')));
  t.same(inCategory.sort(), ['edgelstm-anomaly', 'edgelstm-predict'], 'the palette category edgelstm holds the anomaly and predict nodes');
  const labels = await page.$$eval('#red-ui-palette-container-edgelstm .red-ui-palette-label', (els) => els.map((e) => e.textContent?.trim()));
  t.same(labels.sort(), ['anomaly', 'predict']);
  const registry = await page.evaluate(() => {
    const R = (window as unknown as { RED: { nodes: { getType(t: string): { category: string } | undefined; registry: { getModule(m: string): { sets: Record<string, { types: string[] }> } } } } }).RED;
    return { config: R.nodes.getType('edgelstm-model')?.category, sets: Object.keys(R.nodes.registry.getModule('edgelstm').sets).sort() };
  });
  t.equal(registry.config, 'config', 'edgelstm-model is a config node');
  t.same(registry.sets, ['edgelstm-admin', 'edgelstm-anomaly', 'edgelstm-model', 'edgelstm-predict'], 'all four node sets (the admin one adds no palette node)');

  // Let the simulated pumps run so the statuses show devices and scores.
  await page.waitForFunction((id) => /devices/.test(document.querySelector(`[id="${id}"] .red-ui-flow-node-status-label`)?.textContent ?? ''), ANOMALY_ID, { timeout: 30_000 });
  // The palette filtered to the edgelstm category, for the README's picture.
  await page.locator('#red-ui-palette-search input').pressSequentially('edgelstm');
  await page.waitForSelector('.red-ui-palette-node[data-palette-type="inject"]', { state: 'hidden' });
  await page.screenshot({ path: join(shots, 'node-red-flow.png') });
  t.ok(readFileSync(join(shots, 'node-red-flow.png')).subarray(1, 4).toString() === 'PNG', 'flow screenshot saved');

  await openEditDialog(page, ANOMALY_ID);
  t.equal(await page.inputValue('#node-input-deviceProperty'), 'topic', 'device id from msg.topic');
  t.equal(await page.inputValue('#node-input-sensitivity'), 'normal');
  const modelText = await page.$eval('#node-input-model', (e) => (e as HTMLSelectElement).selectedOptions[0]?.textContent ?? '');
  t.match(modelText, /generic/, 'the model config node is selected');
  t.notOk(await page.isVisible('#node-input-threshold'), 'the threshold is hidden unless sensitivity is custom');
  await page.selectOption('#node-input-sensitivity', 'custom');
  t.ok(await page.isVisible('#node-input-threshold'));
  await page.fill('#node-input-threshold', '2');
  await page.dispatchEvent('#node-input-threshold', 'change');
  await page.waitForSelector('#node-input-threshold.input-error', { timeout: 5000 });
  t.pass('a threshold above 1 is flagged');
  await page.fill('#node-input-threshold', '0.999');
  await page.dispatchEvent('#node-input-threshold', 'change');
  await page.waitForSelector('#node-input-threshold:not(.input-error)', { timeout: 5000 });
  const help = await page.evaluate(() => document.querySelector('.red-ui-editor')?.textContent ?? '');
  t.match(help, /Sensitivity/, 'dialog labels come from the message catalogue');
  await page.screenshot({ path: join(shots, 'node-red-anomaly-dialog.png') });
  await page.click('#node-dialog-cancel');

  t.same(consoleErrors, [], 'no console errors');
  await nr.stop();
  t.same(edgelstmWarnings(nr.log()), [], 'no warnings from the edgelstm nodes');
});

async function openEditDialog(page: Page, id: string): Promise<void> {
  await page.dblclick(`[id="${id}"] .red-ui-flow-node`);
  await page.waitForSelector('#node-input-sensitivity', { state: 'attached', timeout: 10_000 });
  await page.waitForSelector('.red-ui-tray-body', { state: 'visible' });
}
