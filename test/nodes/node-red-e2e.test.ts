/**
 * End to end: the packed package installed into a fresh Node-RED user
 * directory, a real Node-RED process, the example MQTT flow deployed through
 * the Admin API against an embedded Aedes broker, readings in, results out;
 * then a restart, after which the devices' state is back from the state file.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import t from 'tap';
import { startEmbeddedBroker } from '../../runtime/service/embedded-broker';
import { tempDir } from '../helpers/models';
import { CHILD_ENV, deployFlows, edgelstmWarnings, freePort, NODE_RED_DIR, ROOT, startNodeRed, withBroker, type NodeRedProcess } from './node-red-process';

interface R {
  device: string;
  values: number[];
  expected: number[] | null;
  model: string;
}

const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
// No onnxruntime setting: the package installs nothing that downloads (CI's palette check runs with no environment at all).
const INSTALL_ENV = { ...CHILD_ENV, npm_config_update_notifier: 'false' };

function installTarball(userDir: string, tarball: string): string {
  const base = ['install', tarball, '--no-audit', '--no-fund'];
  // Offline first (the project's own install filled the npm cache); where the cache misses some metadata, prefer-offline.
  for (const mode of ['--offline', '--prefer-offline']) {
    const r = spawnSync(npm, [...base, mode], { cwd: userDir, env: INSTALL_ENV, encoding: 'utf8' });
    if (r.status === 0) return mode;
    if (mode === '--prefer-offline' || !/ENOTCACHED/.test(r.stderr)) throw new Error(`npm install ${tarball} ${mode} failed:\n${r.stderr}`);
  }
  throw new Error('unreachable');
}

async function client(url: string): Promise<MqttClient> {
  return mqtt.connectAsync(url, { clientId: `e2e-${process.pid}-${Math.random()}`, reconnectPeriod: 200 });
}

/** Publishes a reading every 50 ms until `want` results came back (QoS 0 readings sent before the flow subscribed are lost). */
async function publishUntil(c: MqttClient, results: R[], want: number, start: number): Promise<number> {
  let v = start;
  const end = Date.now() + 30_000;
  while (results.length < want) {
    if (Date.now() > end) throw new Error(`only ${results.length} results arrived`);
    await c.publishAsync('sensors/pump-7', String(20 + Math.sin(v++ / 3)));
    await new Promise((r) => setTimeout(r, 50));
  }
  return v;
}

t.test('packed package in a real Node-RED: MQTT in -> anomaly -> MQTT out, state across a restart', async (t) => {
  if (!existsSync(join(ROOT, 'dist/nodes/edgelstm-anomaly/edgelstm-anomaly.html'))) throw new Error('run `npm run build` first (npm test does)');
  const dir = tempDir('edgelstm-nr-e2e-');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const started = Date.now();
  const packed = execFileSync(npm, ['pack', '--pack-destination', dir, '--json'], { cwd: ROOT, env: INSTALL_ENV, encoding: 'utf8' });
  const tarball = join(dir, (JSON.parse(packed) as { filename: string }[])[0]!.filename);
  const userDir = join(dir, 'user');
  mkdirSync(userDir);
  writeFileSync(join(userDir, 'package.json'), JSON.stringify({ name: 'node-red-user', private: true }));
  const mode = installTarball(userDir, tarball);
  t.comment(`pack + npm install ${mode}: ${Date.now() - started} ms`);
  const installed = JSON.parse(readFileSync(join(userDir, 'node_modules/edgelstm/package.json'), 'utf8')) as { 'node-red': { nodes: Record<string, string> } };
  t.same(Object.keys(installed['node-red'].nodes).sort(), ['edgelstm-admin', 'edgelstm-anomaly', 'edgelstm-model', 'edgelstm-predict']);
  t.ok(existsSync(join(userDir, 'node_modules/edgelstm/examples/mqtt-anomaly.json')), 'examples ship at the package root');
  t.notOk(existsSync(join(userDir, 'node_modules/onnxruntime-node')), 'onnxruntime-node is not installed with edgelstm (nor its CUDA download)');
  t.ok(existsSync(join(userDir, 'node_modules/edgelstm/dist/vendor/onnxruntime-web/ort-wasm-simd-threaded.wasm')), 'the wasm runtime ships inside the package');

  const broker = await startEmbeddedBroker(0);
  t.teardown(() => broker.close());
  let nr: NodeRedProcess | undefined;
  t.teardown(() => nr?.stop());
  nr = await startNodeRed(userDir, await freePort());
  t.comment(`Node-RED ${(JSON.parse(readFileSync(join(NODE_RED_DIR, 'package.json'), 'utf8')) as { version: string }).version} on Node ${process.version}`);

  // The node sets load without errors, in the palette category the editor shows.
  const sets = (await (await fetch(`${nr.url}/nodes`, { headers: { Accept: 'application/json' } })).json()) as { module: string; name: string; types: string[]; enabled: boolean; err?: string }[];
  const ours = sets.filter((s) => s.module === 'edgelstm');
  t.same(ours.map((s) => s.name).sort(), ['edgelstm-admin', 'edgelstm-anomaly', 'edgelstm-model', 'edgelstm-predict']);
  for (const s of ours) t.ok(s.enabled && !s.err, `${s.name} loaded${s.err ? `: ${s.err}` : ''}`);

  const example = JSON.parse(readFileSync(join(userDir, 'node_modules/edgelstm/examples/mqtt-anomaly.json'), 'utf8')) as Record<string, unknown>[];
  await deployFlows(nr.url, withBroker(example, broker.port));

  const c = await client(broker.url);
  t.teardown(() => c.endAsync());
  const results: R[] = [];
  c.on('message', (topic, payload) => {
    if (topic === 'edgelstm/results') results.push(JSON.parse(payload.toString()) as R);
  });
  await c.subscribeAsync('edgelstm/results', { qos: 1 });
  let v = await publishUntil(c, results, 5, 0);
  const r = results[0]!;
  t.equal(r.device, 'sensors/pump-7', 'the topic is the device id');
  t.equal(r.model, 'generic@1.1.0');
  t.equal(r.values.length, 1);
  t.ok(results.slice(1).every((x) => x.expected !== null), 'the device carries its state from reading to reading');

  // A restart: state saved on stop (the example sets a state file), restored at start.
  await nr.stop();
  const firstLog = nr.log();
  t.ok(existsSync(join(userDir, 'edgelstm/state.bin')), 'state written on stop');
  nr = await startNodeRed(userDir, await freePort());
  results.length = 0;
  v = await publishUntil(c, results, 2, v);
  t.not(results[0]!.expected, null, 'the first result after the restart is scored against the forecast from before it');

  await nr.stop();
  const logs = firstLog + nr.log();
  t.match(logs, /restored the state of 1 devices/);
  t.match(logs, /on wasm: onnxruntime-node is not installed/, 'auto chose wasm, and the log says why');
  t.same(edgelstmWarnings(logs), [], 'Node-RED logged no warnings or errors for the edgelstm nodes');
  t.comment(`total ${Date.now() - started} ms`);
});
