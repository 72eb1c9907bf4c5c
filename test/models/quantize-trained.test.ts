import t from 'tap';
import { loadModel, type Model } from '../../runtime/model/load-model';
import { mulberry32 } from '../../runtime/contract/weights';
import { exportModel, trainingSummary } from '../../models/toolchain/export-model';
import { globalNormalization, prepareSeries, type RawSeries } from '../../models/toolchain/series-data';
import { TRAIN_DEFAULTS, trainLstm } from '../../models/toolchain/train';
import { quantizeModel } from '../../models/quantize/quantize-model';

/** A daily cycle with a slower one and noise: one training series, and held-out ones with other phases and noise. */
function sensor(n: number, seed: number): RawSeries {
  const rand = mulberry32(seed);
  const phase = rand() * 6;
  const v = new Float64Array(n);
  for (let i = 0; i < n; i++) v[i] = 20 + 4 * Math.sin((2 * Math.PI * i) / 24 + phase) + 1.5 * Math.sin((2 * Math.PI * i) / 170 + 2 * phase) + (rand() - 0.5) * 0.6;
  return { name: `sensor-${seed}`, columns: [v] };
}

async function heldOutRmse(m: Model, xs: Float32Array[]): Promise<number> {
  const { H, L } = m.dims;
  let se = 0;
  let count = 0;
  for (const x of xs) {
    const out = await m.backend.run(x, new Float32Array(L * H), new Float32Array(L * H), x.length, 1);
    for (let i = 50; i + 1 < x.length; i++) {
      se += (out.y[i]! - x[i + 1]!) ** 2;
      count++;
    }
  }
  return Math.sqrt(se / count);
}

t.test('a trained H=32 model: int8-weight and int8-static forecast RMSE on held-out series within 1% of fp32', async (t) => {
  const train = [sensor(1500, 1), sensor(1500, 2)];
  const norm = globalNormalization(train, 1);
  const opts = { ...TRAIN_DEFAULTS, hidden: 32, layers: 1, window: 48, epochs: 25, seed: 5, windowsPerEpoch: 400 };
  const result = trainLstm(train.map((s) => prepareSeries(s, norm, [0])), 1, 1, opts);
  const fp32 = exportModel(result.weights, { name: 'trained', version: '0.1.0', features: ['v'], targets: ['v'], normalization: norm, training: trainingSummary(result, {}, { seed: 5 }) });
  const int8 = quantizeModel(fp32);
  if (norm.mode !== 'global') throw new Error('expected global normalization');
  const held = [3, 4, 5, 6].map((seed) => {
    const v = sensor(600, seed).columns[0]!;
    return Float32Array.from(v, (x) => (x - norm.mean[0]!) / norm.std[0]!);
  });
  const a = await heldOutRmse(await loadModel(fp32), held);
  const b = await heldOutRmse(await loadModel(int8), held);
  const naive = Math.sqrt(held.reduce((s, x) => s + x.slice(51).reduce((q, v, i) => q + (v - x[50 + i]!) ** 2, 0), 0) / held.reduce((s, x) => s + x.length - 51, 0));
  t.comment(`trained H=32: held-out RMSE fp32 ${a.toFixed(5)}, int8-weight ${b.toFixed(5)} (ratio ${(b / a).toFixed(5)}), persistence ${naive.toFixed(5)}; file ${fp32.length} -> ${int8.length} B (${(fp32.length / int8.length).toFixed(2)}x)`);
  t.ok(a < naive, 'the model learned something (beats persistence)');
  t.ok(Math.abs(b / a - 1) < 0.01, `RMSE within 1%: ${((b / a - 1) * 100).toFixed(3)}%`);
  // int8 compute, its scales calibrated on the training series.
  const stat = quantizeModel(fp32, { mode: 'static', calibration: { series: train, source: 'training series' } });
  const s = await heldOutRmse(await loadModel(stat), held);
  t.comment(`trained H=32: held-out RMSE int8-static ${s.toFixed(5)} (ratio ${(s / a).toFixed(5)})`);
  t.ok(Math.abs(s / a - 1) < 0.01, `int8-static RMSE within 1%: ${((s / a - 1) * 100).toFixed(3)}%`);
});

t.test('a residual model quantizes: int8-weight and int8-dynamic keep the skip and stay close to fp32; int8-static refuses it by name', async (t) => {
  const train = [sensor(800, 1)];
  const norm = globalNormalization(train, 1);
  const opts = { ...TRAIN_DEFAULTS, hidden: 16, layers: 1, window: 32, epochs: 3, seed: 5, windowsPerEpoch: 100, residual: true };
  const result = trainLstm(train.map((s) => prepareSeries(s, norm, [0])), 1, 1, opts);
  const fp32 = exportModel(result.weights, { name: 'residual', version: '0.1.0', features: ['v'], targets: ['v'], normalization: norm, training: trainingSummary(result, {}, { residual: true }) });
  if (norm.mode !== 'global') throw new Error('expected global normalization');
  const x = Float32Array.from(sensor(300, 7).columns[0]!, (v) => (v - norm.mean[0]!) / norm.std[0]!);
  const run = async (bytes: Uint8Array): Promise<{ y: Float32Array; residual: readonly number[] | undefined }> => {
    const m = await loadModel(bytes);
    const { H, L } = m.dims;
    const out = await m.backend.run(x, new Float32Array(L * H), new Float32Array(L * H), x.length, 1);
    const residual = m.weights?.().residual;
    await m.release();
    return { y: Float32Array.from(out.y), residual };
  };
  const ref = await run(fp32);
  t.same(ref.residual, [0]);
  for (const mode of ['weight', 'dynamic'] as const) {
    const q = await run(quantizeModel(fp32, { mode }));
    let worst = 0;
    for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(q.y[i]! - ref.y[i]!));
    t.same(q.residual, [0], `int8-${mode}: the skip reads back`);
    t.ok(worst < 0.05, `int8-${mode}: max |y - y fp32| ${worst.toExponential(2)}`);
  }
  t.throws(() => quantizeModel(fp32, { mode: 'static' }), { message: /--mode static does not implement residual head/ });
});
