import t from 'tap';
import { tempDir, writeTestModel } from '../helpers/models';
import { until } from '../service/helpers';
import { listener, metric, mosquitto, noMosquitto, service } from './harness';

// Defects 5 and 10 of issue 14: one far-future timestamp black-holed a device (every later reading looked like a
// redelivery), readings sharing a millisecond were dropped, a duplicate hid invalid input, and a SenML pack with
// two base names credited one device's value to another.

t.setTimeout(100_000);
const dir = tempDir('edgelstm-sec-ts-');
const modelPath = writeTestModel(dir);
const twoFeatures = writeTestModel(dir, { features: ['temp', 'hum'] }, 'two.onnx');

t.test('far-future and microsecond timestamps: E_BAD_TIMESTAMP, counted, and the device keeps working', { skip: noMosquitto }, async (t) => {
  const broker = await mosquitto(dir);
  t.teardown(() => broker.stop());
  const { svc } = await service(modelPath, broker.url, ['--qos', '1']);
  t.teardown(() => svc.stop());
  const { c, got } = await listener(broker.url, ['edgelstm/+/result', 'edgelstm/errors']);
  t.teardown(() => c.endAsync());
  const errors = (): Record<string, unknown>[] => got.filter(([topic]) => topic === 'edgelstm/errors').map(([, r]) => r);
  const results = (device: string): number => got.filter(([topic, r]) => topic.endsWith('/result') && r['device'] === device).length;
  await c.publishAsync('sensors/p1/telemetry', JSON.stringify({ value: 1, ts: 1e300 }), { qos: 1 });
  await c.publishAsync('sensors/p1/telemetry', JSON.stringify({ value: 1, ts: Date.now() * 1000 }), { qos: 1 });
  await until(() => errors().length === 2, 10_000, 'two error reports');
  t.same(errors().map((e) => [e['code'], e['field'], e['device']]), [['E_BAD_TIMESTAMP', 'ts', 'p1'], ['E_BAD_TIMESTAMP', 'ts', 'p1']]);
  t.equal(await metric(svc, 'edgelstm_messages_invalid_total', 'code="E_BAD_TIMESTAMP"'), 2, 'counted under their code');
  const t0 = Date.now() - 200_000;
  for (let i = 0; i < 100; i++) await c.publishAsync('sensors/p1/telemetry', JSON.stringify({ value: Math.sin(i), ts: t0 + i * 1000 }), { qos: 1 });
  await until(() => results('p1') === 100, 20_000, '100 results');
  t.equal(results('p1'), 100, 'the next 100 readings all answered');
  t.equal(await metric(svc, 'edgelstm_duplicates_total'), 0, 'none mistaken for a redelivery');
});

t.test('--max-reading-age-s refuses old readings; the default accepts them (replays of history)', { skip: noMosquitto }, async (t) => {
  const broker = await mosquitto(dir);
  t.teardown(() => broker.stop());
  const { svc } = await service(modelPath, broker.url, ['--qos', '1', '--max-reading-age-s', '3600']);
  t.teardown(() => svc.stop());
  const { c, got } = await listener(broker.url, ['edgelstm/+/result', 'edgelstm/errors']);
  t.teardown(() => c.endAsync());
  await c.publishAsync('sensors/old/telemetry', JSON.stringify({ value: 1, ts: 1000 }), { qos: 1 });
  await c.publishAsync('sensors/old/telemetry', JSON.stringify({ value: 1, ts: Date.now() - 1000 }), { qos: 1 });
  await until(() => got.length === 2, 10_000, 'an error and a result');
  t.same(got.map(([topic, r]) => [topic, r['code'] ?? null]), [['edgelstm/errors', 'E_BAD_TIMESTAMP'], ['edgelstm/old/result', null]]);
});

t.test('equal timestamps: distinct readings all answered; only the same reading again is a duplicate; invalid before duplicate', { skip: noMosquitto }, async (t) => {
  const broker = await mosquitto(dir);
  t.teardown(() => broker.stop());
  const { svc } = await service(modelPath, broker.url, ['--qos', '1']);
  t.teardown(() => svc.stop());
  const { c, got } = await listener(broker.url, ['edgelstm/+/result', 'edgelstm/errors']);
  t.teardown(() => c.endAsync());
  const ts = Date.now() - 60_000;
  for (let i = 0; i < 300; i++) await c.publishAsync('sensors/s/telemetry', JSON.stringify({ value: i, ts }), { qos: 1 });
  await until(() => got.length === 300, 20_000, '300 results');
  // The same reading again (what a redelivery is): answered without stepping, counted.
  await c.publishAsync('sensors/s/telemetry', JSON.stringify({ value: 299, ts }), { qos: 1 });
  await until(() => svc.duplicates === 1, 10_000, 'one duplicate');
  // Invalid input at an old timestamp: reported as invalid, not hidden as a duplicate.
  await c.publishAsync('sensors/s/telemetry', JSON.stringify({ values: [1, 2], ts: ts - 5000 }), { qos: 1 });
  await until(() => got.length === 301, 10_000, 'an error report');
  t.equal(got.filter(([topic]) => topic.endsWith('/result')).length, 300, 'one result per distinct reading');
  t.equal(got[300]![1]['code'], 'E_BAD_LENGTH');
  t.equal(await metric(svc, 'edgelstm_duplicates_total'), 1);
  t.equal(svc.engine.counters.accepted, 300, 'the engine stepped 300 readings');
});

t.test('SenML: records under two base names are two devices, each with its own value', { skip: noMosquitto }, async (t) => {
  const broker = await mosquitto(dir);
  t.teardown(() => broker.stop());
  const { svc } = await service(twoFeatures, broker.url, ['--qos', '1', '--input', 'senml/in']);
  t.teardown(() => svc.stop());
  const { c, got } = await listener(broker.url, ['edgelstm/+/result', 'edgelstm/errors']);
  t.teardown(() => c.endAsync());
  const bt = Date.now() / 1000 - 10;
  await c.publishAsync('senml/in', JSON.stringify([
    { bn: 'urn:dev:a:', bt, n: 'temp', v: 1 }, { n: 'hum', v: 2 },
    { bn: 'urn:dev:b:', n: 'temp', v: 30 }, { n: 'hum', v: 40 },
  ]), { qos: 1 });
  // The same values under two fresh names, one per pack: what each device's first result must be.
  await c.publishAsync('senml/in', JSON.stringify([{ bn: 'urn:dev:c:', bt, n: 'temp', v: 1 }, { n: 'hum', v: 2 }]), { qos: 1 });
  await c.publishAsync('senml/in', JSON.stringify([{ bn: 'urn:dev:d:', bt, n: 'temp', v: 30 }, { n: 'hum', v: 40 }]), { qos: 1 });
  await until(() => got.length === 4, 10_000, 'four results');
  const by = new Map(got.map(([topic, r]) => [topic, r]));
  const same = (x: string, y: string): void => {
    const { device: _a, ...rx } = by.get(`edgelstm/${x}/result`)!;
    const { device: _b, ...ry } = by.get(`edgelstm/${y}/result`)!;
    t.same(rx, ry, `${x} answered with its own values (as ${y} alone)`);
  };
  same('a', 'c');
  same('b', 'd');
  t.notSame(by.get('edgelstm/a/result')!['forecast'], by.get('edgelstm/b/result')!['forecast'], 'the two devices differ');
  void svc;
});
