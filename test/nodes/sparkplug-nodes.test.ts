/**
 * Sparkplug B into the Node-RED nodes: a real Node-RED running
 * examples/sparkplug-anomaly.json (mqtt in on spBv1.0/# -> edgelstm-anomaly
 * -> mqtt out), a real Mosquitto, messages made by Eclipse Tahu's codec
 * (sparkplug-payload). The Sparkplug device's results equal those of the same
 * readings sent as JSON to the same node; an unknown alias and data without a
 * birth are dropped and answered with NCMD Node Control/Rebirth; births,
 * STATE and a payload that is not Sparkplug send nothing.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { get } from 'sparkplug-payload';
import type { UMetric } from 'sparkplug-payload/lib/sparkplugbpayload';
import t from 'tap';
import { tempDir } from '../helpers/models';
import { MOSQUITTO, startMosquitto } from '../service/helpers';
import { freePort, ROOT, startNodeRed } from './node-red-process';

interface R {
  device: string;
  ts: number;
  values: number[];
  expected: number[] | null;
  likelihood: number | null;
  forecast: number[];
}

t.setTimeout(150_000);
const tahu = get('spBv1.0')!;
const skip = existsSync(MOSQUITTO) ? false : 'mosquitto not installed';
const ANOMALY = '5f6e5c0f0d1b2c3d'; // the anomaly node of examples/sparkplug-anomaly.json
const TS0 = 1_760_000_000_000;
const N = 30;
const temp = (i: number): number => 20 + 3 * Math.sin(i / 4) + 0.1 * Math.cos(i * 1.7);

function encode(seq: number | undefined, metrics: UMetric[], ts = Date.now()): Buffer {
  return Buffer.from(tahu.encodePayload({ timestamp: ts, metrics, ...(seq !== undefined ? { seq } : {}) }));
}

async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

t.test('Node-RED: Sparkplug B births, aliases and data through mqtt in give the JSON path\'s results; rebirth on unknown alias', { skip }, async (t) => {
  if (!existsSync(join(ROOT, 'dist/nodes/edgelstm-anomaly/edgelstm-anomaly.js'))) throw new Error('run `npm run build` first (npm test does)');
  const dir = tempDir('edgelstm-nr-sparkplug-');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const port = await freePort();
  const broker = await startMosquitto(dir, port, ['allow_anonymous true']);
  t.teardown(() => broker.kill('SIGKILL'));
  const url = `mqtt://127.0.0.1:${port}`;

  const userDir = join(dir, 'user');
  mkdirSync(join(userDir, 'node_modules'), { recursive: true });
  symlinkSync(ROOT, join(userDir, 'node_modules', 'edgelstm'), 'dir');
  const flows = (JSON.parse(readFileSync(join(ROOT, 'examples/sparkplug-anomaly.json'), 'utf8')) as Record<string, unknown>[]).map((n) =>
    n['type'] === 'mqtt-broker' ? { ...n, broker: '127.0.0.1', port: String(port) } : n['type'] === 'edgelstm-model' ? { ...n, stateFile: '', warmup: 4, backend: 'native' } : n,
  );
  const tab = flows.find((n) => n['type'] === 'tab')!['id'];
  const brokerId = flows.find((n) => n['type'] === 'mqtt-broker')!['id'];
  // The reference: the same readings as JSON on json/<device>, into the same anomaly node.
  flows.push({ id: 'json-in', type: 'mqtt in', z: tab, name: 'json', topic: 'json/+', qos: '0', datatype: 'auto-detect', broker: brokerId, nl: false, rap: true, rh: 0, inputs: 0, x: 120, y: 300, wires: [[ANOMALY]] });
  writeFileSync(join(userDir, 'flows.json'), JSON.stringify(flows));
  const nr = await startNodeRed(userDir, await freePort());
  t.teardown(() => nr.stop());

  const obs = await mqtt.connectAsync(url, { clientId: 'observer' });
  t.teardown(() => obs.endAsync());
  const results: R[] = [];
  const rebirths: string[] = [];
  obs.on('message', (topic, payload) => {
    if (topic === 'edgelstm/results') results.push(JSON.parse(payload.toString()) as R);
    else if (topic.includes('/NCMD/') && !topic.endsWith('/Edge9') && (tahu.decodePayload(payload).metrics ?? []).some((m) => m.name === 'Node Control/Rebirth' && m.value === true)) rebirths.push(topic);
  });
  await obs.subscribeAsync({ 'edgelstm/results': { qos: 0 }, 'spBv1.0/+/NCMD/+': { qos: 0 } });
  const of = (device: string): R[] => results.filter((r) => r.device === device);

  // The flow's subscriptions are up once a JSON probe comes back.
  const edge = await mqtt.connectAsync(url, { clientId: 'edge-node' });
  t.teardown(() => edge.endAsync());
  for (let i = 0; of('json/probe').length === 0; i++) {
    if (i > 600) throw new Error(`the flow never answered:\n${nr.log()}`);
    await edge.publishAsync('json/probe', '21');
    await new Promise((r) => setTimeout(r, 50));
  }

  // Births: the metric Temperature (the example maps it to the feature value) with alias 7.
  let seq = -1;
  const next = (): number => (seq = (seq + 1) & 255);
  const birth = async (): Promise<void> => {
    seq = -1;
    await edge.publishAsync('spBv1.0/Plant/NBIRTH/Edge1', encode(next(), [{ name: 'bdSeq', type: 'Int64', value: 0 }, { name: 'Node Control/Rebirth', type: 'Boolean', value: false }]));
    await edge.publishAsync('spBv1.0/Plant/DBIRTH/Edge1/Pump', encode(next(), [{ name: 'Temperature', alias: 7, type: 'Double', value: temp(0) }]));
  };
  await birth();
  // Not readings: another host application's STATE, and a command (of some other host: not counted below).
  await edge.publishAsync('spBv1.0/STATE/scada', JSON.stringify({ online: true, timestamp: Date.now() }));
  await edge.publishAsync('spBv1.0/Plant/NCMD/Edge9', encode(undefined, [{ name: 'Node Control/Rebirth', type: 'Boolean', value: true }]));
  for (let i = 0; i < N; i++) {
    // By alias only, as edge nodes do after the birth; the metric's own timestamp is the reading's.
    await edge.publishAsync('spBv1.0/Plant/DDATA/Edge1/Pump', encode(next(), [{ alias: 7, type: 'Double', value: temp(i), timestamp: TS0 + i * 1000 }]));
    await edge.publishAsync('json/Pump', JSON.stringify({ value: temp(i), ts: TS0 + i * 1000 }));
  }
  await until(() => of('Plant/Edge1/Pump').length >= N && of('json/Pump').length >= N, 60_000, `${N} results per device (have ${of('Plant/Edge1/Pump').length} Sparkplug, ${of('json/Pump').length} JSON)`);
  const sp = of('Plant/Edge1/Pump');
  const js = of('json/Pump');
  t.equal(sp.length, N, 'one result per DDATA (births, STATE and commands send nothing)');
  t.same(sp.map((r) => r.ts), js.map((r) => r.ts), 'the metric timestamps are the readings\' timestamps');
  t.same(sp.map((r) => r.values), js.map((r) => r.values), 'the values read by alias');
  t.same(sp.map((r) => [r.expected, r.likelihood, r.forecast]), js.map((r) => [r.expected, r.likelihood, r.forecast]), 'forecasts and likelihoods equal to the JSON path');
  t.ok(sp.slice(5).every((r) => r.likelihood !== null), 'scored after the first readings');

  // An alias no birth announced: dropped, and the edge node is asked for a rebirth.
  await edge.publishAsync('spBv1.0/Plant/DDATA/Edge1/Pump', encode(next(), [{ alias: 99, type: 'Double', value: 50, timestamp: TS0 + N * 1000 }]));
  await until(() => rebirths.length >= 1, 20_000, 'a rebirth request after an unknown alias');
  t.same(rebirths, ['spBv1.0/Plant/NCMD/Edge1'], 'NCMD Node Control/Rebirth to the edge node');
  // Data from an edge node whose birth was never seen: dropped, rebirth asked of it.
  await edge.publishAsync('spBv1.0/Plant/DDATA/Edge2/Fan', encode(0, [{ name: 'Temperature', type: 'Double', value: 20 }]));
  await until(() => rebirths.length >= 2, 20_000, 'a rebirth request after data without a birth');
  t.equal(rebirths[1], 'spBv1.0/Plant/NCMD/Edge2');
  // Not Sparkplug at all on a Sparkplug topic: an error, no state changed.
  await edge.publishAsync('spBv1.0/Plant/DDATA/Edge1/Pump', Buffer.from([0xff, 0xff, 0xff, 0x01]));

  // The edge node answers with new births; data flows again, continuing the same device.
  await birth();
  await edge.publishAsync('spBv1.0/Plant/DDATA/Edge1/Pump', encode(next(), [{ alias: 7, type: 'Double', value: temp(N), timestamp: TS0 + N * 1000 }]));
  await edge.publishAsync('json/Pump', JSON.stringify({ value: temp(N), ts: TS0 + N * 1000 }));
  await until(() => of('Plant/Edge1/Pump').length > N && of('json/Pump').length > N, 20_000, 'a result after the rebirth');
  const [a, b] = [of('Plant/Edge1/Pump')[N]!, of('json/Pump')[N]!];
  t.same([a.values, a.expected, a.likelihood, a.forecast], [b.values, b.expected, b.likelihood, b.forecast], 'after the rebirth: still equal to the JSON path (the dropped messages changed nothing)');
  t.equal(of('Plant/Edge1/Pump').length, N + 1, 'nothing from the refused messages');

  const errors = nr.log().split('\n').filter((l) => /\[error\]/.test(l));
  t.ok(errors.some((l) => /alias 99/.test(l)), 'the unknown alias is reported (Catch nodes see it)');
  t.ok(errors.some((l) => /no NBIRTH seen from edge node Plant\/Edge2/.test(l)), 'the missing birth is reported');
  t.ok(errors.some((l) => /not a Sparkplug B payload/.test(l)), 'the bad payload is reported');
  t.notOk(errors.some((l) => /STATE|Edge9/.test(l)), 'STATE and commands are no errors');
});
