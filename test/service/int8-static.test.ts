// An int8-static model (edgelstm quantize --mode static) served unchanged by `edgelstm run`'s MQTT
// service: the results equal, bit for bit, those of an Engine fed one device at a time (batch of 1),
// though the service batches the devices together.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Engine } from '../../runtime/engine/engine';
import { loadModel } from '../../runtime/model/load-model';
import type { Result } from '../../runtime/engine/sample';
import { quantizeModel } from '../../models/quantize/quantize-model';
import { makeTestModel, tempDir } from '../helpers/models';
import { byDeviceTs, client, collect, startService, until } from './helpers';

const dir = tempDir('edgelstm-svc-int8-');
const modelPath = join(dir, 'int8-static.onnx');
const fp32 = makeTestModel({ hidden: 24, seed: 18, normalization: { mode: 'per-device', window: 100, minStd: 1e-3 } }).bytes;
writeFileSync(modelPath, quantizeModel(fp32, { mode: 'static' }));

interface Reading { device: string; ts: number; v: number }
const devices = 6;
const steps = 25;
const readings: Reading[] = [];
// Devices far apart in level and amplitude: with one activation scale per batch (int8-dynamic) they would change each other's results.
for (let i = 0; i < steps; i++) for (let d = 0; d < devices; d++) readings.push({ device: `dev-${d}`, ts: 1_700_000_000_000 + i * 1000, v: (d + 1) ** 3 * (Math.sin(i / 4 + d) + 0.2 * Math.cos(i * 1.3)) + 100 * d });

/** The engine alone, each device's readings one call at a time (every batch holds one device). */
async function solo(): Promise<Map<string, Result>> {
  const model = await loadModel(modelPath, { backend: 'native' });
  const e = new Engine(model, { maxDelayMs: 0 });
  const out: Result[] = [];
  for (const r of readings) out.push(await e.push({ device: r.device, ts: r.ts, values: [r.v] }));
  await e.close();
  await model.release();
  return byDeviceTs(out);
}

t.test('int8-static through the MQTT service: the engine\'s own results, bit for bit, with devices batched together', async (t) => {
  const probe = await loadModel(modelPath, { backend: 'native' });
  t.equal(probe.metadata.quantization.scheme, 'int8-static', 'the file is the int8-compute form');
  await probe.release();

  const svc = await startService(modelPath, ['--backend', 'native', '--max-delay-ms', '20']);
  t.teardown(() => svc.stop());
  const c = await client(svc.brokerUrl);
  t.teardown(() => c.endAsync());
  const results = await collect(c, 'edgelstm/+/result');
  for (let i = 0; i < steps; i++) {
    // One step of every device at once, so the service's batches mix them.
    await Promise.all(readings.slice(i * devices, (i + 1) * devices).map((r) => c.publishAsync(`sensors/${r.device}/telemetry`, JSON.stringify({ value: r.v, ts: r.ts }), { qos: 1 })));
    await until(() => results.length >= (i + 1) * devices, 20_000, `results of step ${i}`);
  }
  t.equal(results.length, readings.length, 'one result per reading');

  const got = byDeviceTs(results);
  const ref = await solo();
  let same = 0;
  for (const [k, r] of ref) {
    const s = got.get(k);
    if (s && JSON.stringify(s.forecast) === JSON.stringify(r.forecast) && JSON.stringify(s.expected) === JSON.stringify(r.expected)) same++;
    else t.comment(k, s?.forecast, r.forecast);
  }
  t.equal(same, readings.length, 'every forecast identical to the engine fed one device at a time');

  const metrics = await (await fetch(`http://127.0.0.1:${svc.metricsPort}/metrics`)).text();
  const calls = Number(/^edgelstm_batch_size_count (\d+)/m.exec(metrics)?.[1] ?? NaN);
  t.ok(calls < readings.length, `the service batched devices together (${calls} inference calls for ${readings.length} readings)`);
  const health = (await (await fetch(`http://127.0.0.1:${svc.metricsPort}/health`)).json()) as { backend: { kind: string } };
  t.equal(health.backend.kind, 'native', 'served by onnxruntime-node');
});
