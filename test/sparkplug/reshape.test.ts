import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import mqtt from 'mqtt';
import { get } from 'sparkplug-payload';
import type { UMetric, UPayload } from 'sparkplug-payload/lib/sparkplugbpayload';
import { tempDir, writeTestModel } from '../helpers/models';
import { freePort, MOSQUITTO, startMosquitto, startService, until } from '../service/helpers';

// A model swap to one with other features, with Sparkplug in and out (Tahu's codec, a real Mosquitto): readings
// map to the new model's features (not by position onto the old ones) and results go out under new births.
t.setTimeout(60_000);
const tahu = get('spBv1.0')!;
const dir = tempDir('edgelstm-sparkplug-reshape-');
const norm = { mode: 'per-device', window: 100, minStd: 1e-3 } as const;
const modelA = writeTestModel(dir, { features: ['temp', 'pressure'], normalization: norm }, 'a.onnx');
const modelB = writeTestModel(dir, { features: ['temp', 'flow'], normalization: norm }, 'b.onnx');
const skip = existsSync(MOSQUITTO) ? false : 'mosquitto not installed';
const TS0 = 1_760_000_000_000;

function encode(seq: number | undefined, metrics: UMetric[], ts = Date.now()): Buffer {
  const p: UPayload = { timestamp: ts, metrics, ...(seq !== undefined ? { seq } : {}) };
  return Buffer.from(tahu.encodePayload(p));
}

interface Seen { topic: string; metrics: UMetric[] }

t.test('a model with other features: rebirths asked and published, readings mapped by name to the new features', { skip }, async (t) => {
  const port = await freePort();
  const broker = await startMosquitto(dir, port, ['allow_anonymous true']);
  t.teardown(() => broker.kill('SIGKILL'));
  const url = `mqtt://127.0.0.1:${port}`;
  const svc = await startService(modelA, ['--broker', url, '--name', 'sp-reshape', '--payload', 'sparkplug', '--result-format', 'sparkplug', '--sparkplug-group', 'Edgelstm', '--sparkplug-rebirth-interval-s', '0', '--sparkplug-state=false']);
  t.teardown(() => svc.stop());

  const obs = await mqtt.connectAsync(url, { clientId: 'reshape-observer' });
  t.teardown(() => obs.endAsync());
  const seen: Seen[] = [];
  obs.on('message', (topic, payload) => seen.push({ topic, metrics: tahu.decodePayload(payload).metrics ?? [] }));
  await obs.subscribeAsync({ 'spBv1.0/Plant/NCMD/Edge1': { qos: 0 }, 'spBv1.0/Edgelstm/#': { qos: 0 } });
  const ours = (type: string): Seen[] => seen.filter((s) => s.topic.startsWith(`spBv1.0/Edgelstm/${type}/sp-reshape`));
  const value = (s: Seen, name: string): unknown => s.metrics.find((m) => m.name === name)?.value;
  const rebirthAsked = (): number => seen.filter((s) => s.topic === 'spBv1.0/Plant/NCMD/Edge1' && s.metrics.some((m) => m.name === 'Node Control/Rebirth' && m.value === true)).length;

  const edge = await mqtt.connectAsync(url, { clientId: 'reshape-edge' });
  t.teardown(() => edge.endAsync());
  let seq = -1;
  const next = (): number => (seq = (seq + 1) & 255);
  const births = async (): Promise<void> => {
    seq = -1;
    await edge.publishAsync('spBv1.0/Plant/NBIRTH/Edge1', encode(next(), [{ name: 'bdSeq', type: 'Int64', value: 0 }, { name: 'Node Control/Rebirth', type: 'Boolean', value: false }]), { qos: 0 });
    await edge.publishAsync('spBv1.0/Plant/DBIRTH/Edge1/Pump', encode(next(), [
      { name: 'temp', alias: 1, type: 'Double', value: 20 } as UMetric,
      { name: 'pressure', alias: 2, type: 'Double', value: 1 } as UMetric,
      { name: 'flow', alias: 3, type: 'Double', value: 50 } as UMetric,
    ]), { qos: 0 });
  };
  const reading = (i: number): Buffer => encode(next(), [
    { alias: 1, type: 'Double', value: 20 + i * 0.1, timestamp: TS0 + i * 1000 } as UMetric,
    { alias: 2, type: 'Double', value: 1 + i * 0.01, timestamp: TS0 + i * 1000 } as UMetric,
    { alias: 3, type: 'Double', value: 50 + i, timestamp: TS0 + i * 1000 } as UMetric,
  ]);
  const DDATA = 'spBv1.0/Plant/DDATA/Edge1/Pump';

  await births();
  for (let i = 0; i < 3; i++) await edge.publishAsync(DDATA, reading(i), { qos: 0 });
  await until(() => ours('DDATA').length >= 3, 15_000, 'three results under model a');
  const birthA = ours('DBIRTH').at(-1)!;
  t.ok(birthA.metrics.some((m) => m.name === 'value/pressure') && !birthA.metrics.some((m) => m.name === 'value/flow'), 'model a: the device is born with value/pressure');
  t.equal(value(ours('DDATA')[2]!, 'value/pressure'), 1.02, 'model a: pressure read as pressure');

  const nbirths = ours('NBIRTH').length;
  const asked = rebirthAsked();
  const outcome = await svc.swapModel(readFileSync(modelB), 'b.onnx');
  t.equal(outcome?.statesKept, false, 'another architecture: states start afresh');
  await until(() => rebirthAsked() > asked && ours('NBIRTH').length > nbirths, 10_000, 'rebirth asked of the edge node and our own NBIRTH again');
  t.pass('the edge node is asked for its births; edgelstm publishes its NBIRTH again');

  await births();
  const before = ours('DDATA').length;
  for (let i = 3; i < 6; i++) await edge.publishAsync(DDATA, reading(i), { qos: 0 });
  await until(() => ours('DDATA').length >= before + 3, 15_000, 'three results under model b');
  const birthB = ours('DBIRTH').at(-1)!;
  t.ok(birthB.metrics.some((m) => m.name === 'value/flow') && !birthB.metrics.some((m) => m.name === 'value/pressure'), 'model b: the device is born again with value/flow, before its data');
  t.ok(seen.indexOf(birthB) < seen.indexOf(ours('DDATA')[before]!), 'the new DBIRTH comes before the first DDATA under model b');
  const last = ours('DDATA').at(-1)!;
  t.equal(value(last, 'value/flow'), 55, 'flow is read as flow (not the pressure metric put in its place)');
  t.equal(value(last, 'value/temp'), 20.5, 'temp still read as temp');
  t.equal(value(last, 'value/pressure'), undefined, 'no pressure metric under model b');
});
