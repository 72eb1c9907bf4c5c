import t from 'tap';
import * as ort from 'onnxruntime-node';
import { loadModel } from '../../runtime/model/load-model';
import { referenceForward } from '../../runtime/backend/reference-lstm';
import { exportModel, trainingSummary } from '../../models/toolchain/export-model';
import { prepareSeries, type RawSeries } from '../../models/toolchain/series-data';
import { TRAIN_DEFAULTS, trainLstm } from '../../models/toolchain/train';
import { WindowGradient } from '../../runtime/learn/window-gradient';
import { GruWindowGradient } from '../../runtime/learn/gru-window-gradient';

function twoFeatureSeries(n: number): RawSeries {
  const a = new Float64Array(n);
  const b = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    a[i] = 10 + 3 * Math.sin((2 * Math.PI * i) / 24) + 0.2 * Math.sin(i * 1.7);
    b[i] = 50 + 5 * Math.cos((2 * Math.PI * i) / 24);
  }
  return { name: 'two.csv', columns: [a, b] };
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

for (const logvar of [false, true]) {
  t.test(`exported model (${logvar ? 'with' : 'without'} y_logvar) runs in onnxruntime-node like the TypeScript forward pass`, async (t) => {
    const norm = { mode: 'per-device' as const, window: 100, minStd: 1e-3 };
    const series = prepareSeries(twoFeatureSeries(400), norm, [0]);
    const opts = { ...TRAIN_DEFAULTS, hidden: 8, layers: 2, window: 16, epochs: 2, seed: 3, logvar };
    const result = trainLstm([series], 2, 1, opts);
    const bytes = exportModel(result.weights, {
      name: 'test-model',
      version: '0.1.0',
      features: ['a', 'b'],
      targets: ['a'],
      normalization: norm,
      training: trainingSummary(result, { files: ['two.csv'] }, { seed: 3 }),
    });

    const seq = 40;
    const x = Float32Array.from(series.x.subarray(0, seq * 2));
    const zeros = new Float32Array(2 * 8);
    const session = await ort.InferenceSession.create(bytes);
    const out = await session.run({
      x: new ort.Tensor('float32', x, [seq, 1, 2]),
      h0: new ort.Tensor('float32', zeros, [2, 1, 8]),
      c0: new ort.Tensor('float32', zeros, [2, 1, 8]),
    });
    await session.release();
    const y = out['y']!.data as Float32Array;
    const ref = referenceForward(result.weights, x, zeros, zeros, seq, 1);
    t.ok(maxDiff(y, ref.y) < 1e-5, `y vs reference LSTM: ${maxDiff(y, ref.y).toExponential(2)}`);
    if (logvar) t.ok(maxDiff(out['y_logvar']!.data as Float32Array, ref.ylogvar!) < 1e-5, 'y_logvar vs reference');
    else t.notOk('y_logvar' in out, 'no y_logvar without a variance head');

    // The trainer's own float64 forward pass, on the float64 parameters it kept.
    const net = new WindowGradient(result.layout, seq);
    const targets = Float64Array.from(y);
    const se = net.forward(result.params, Float64Array.from(x), 0, targets, 0, seq);
    if (!logvar) t.ok(Math.sqrt(se / seq) < 1e-5, `trainer forward vs ONNX Runtime: rms ${Math.sqrt(se / seq).toExponential(2)}`);
    else t.ok(Math.sqrt(net.squaredError(targets, 0, seq) / seq) < 1e-5, 'trainer forward vs ONNX Runtime (mean head)');

    const model = await loadModel(bytes, { name: 'test-model.onnx', sidecar: false });
    const m = model.metadata;
    t.same(m.features, ['a', 'b']);
    t.same(m.targets, ['a']);
    t.same(m.normalization, norm);
    t.same(m.quantization, { scheme: 'none' });
    t.equal(model.id, 'test-model@0.1.0');
    t.equal(model.hasLogvar, logvar);
    t.same(model.dims, { F: 2, H: 8, L: 2, T: 1 });
    const tr = m.training as Record<string, unknown>;
    t.equal(tr['epochs'], result.history.length);
    t.equal(tr['loss'], logvar ? 'gaussian-nll' : 'mse');
    t.same(tr['data'], { files: ['two.csv'] });
    t.same((tr['options'] as Record<string, unknown>)['seed'], 3);
    t.equal((tr['losses'] as { train: number[] }).train.length, result.history.length);
    t.type(tr['durationSeconds'], 'number');
    await model.release();
  });
}

for (const cell of ['lstm', 'gru'] as const) {
  for (const logvar of [false, true]) {
    t.test(`a residual head (${cell}, ${logvar ? 'with' : 'without'} y_logvar): ONNX Runtime, the reference and the trainer agree, and the skip reads back`, async (t) => {
      const norm = { mode: 'per-device' as const, window: 100, minStd: 1e-3 };
      // The target is the second feature, so the graph's Gather must pick feature 1, not 0.
      const series = prepareSeries(twoFeatureSeries(400), norm, [1]);
      const opts = { ...TRAIN_DEFAULTS, cell, hidden: 6, layers: 2, window: 16, epochs: 2, seed: 4, logvar, residual: true };
      const result = trainLstm([series], 2, 1, opts);
      t.same(result.weights.residual, [1]);
      const bytes = exportModel(result.weights, { name: 'residual', version: '0.1.0', features: ['a', 'b'], targets: ['b'], normalization: norm, training: trainingSummary(result, { files: ['two.csv'] }, { residual: true }) });
      const seq = 40;
      const x = Float32Array.from(series.x.subarray(0, seq * 2));
      const zeros = new Float32Array(2 * 6);
      const session = await ort.InferenceSession.create(bytes);
      const feeds: Record<string, ort.Tensor> = { x: new ort.Tensor('float32', x, [seq, 1, 2]), h0: new ort.Tensor('float32', zeros, [2, 1, 6]) };
      if (cell === 'lstm') feeds['c0'] = new ort.Tensor('float32', zeros, [2, 1, 6]);
      const out = await session.run(feeds);
      await session.release();
      const y = out['y']!.data as Float32Array;
      const ref = referenceForward(result.weights, x, zeros, zeros, seq, 1);
      t.ok(maxDiff(y, ref.y) < 1e-5, `y vs reference: ${maxDiff(y, ref.y).toExponential(2)}`);
      if (logvar) t.ok(maxDiff(out['y_logvar']!.data as Float32Array, ref.ylogvar!) < 1e-5, 'y_logvar vs reference');
      // The trainer's own forward pass: its squared error against ONNX Runtime's y is ~0.
      const net = cell === 'gru' ? new GruWindowGradient(result.layout, seq) : new WindowGradient(result.layout, seq);
      const targets = Float64Array.from(y);
      net.forward(result.params, Float64Array.from(x), 0, targets, 0, seq);
      t.ok(Math.sqrt(net.squaredError(targets, 0, seq) / seq) < 1e-5, `trainer forward vs ONNX Runtime: rms ${Math.sqrt(net.squaredError(targets, 0, seq) / seq).toExponential(2)}`);
      // Without the skip the head alone is far from y: the Add is really in the graph.
      const { residual: _skip, ...plain } = result.weights;
      t.ok(maxDiff(y, referenceForward(plain, x, zeros, zeros, seq, 1).y) > 0.1, 'the skip changes y');
      const model = await loadModel(bytes, { name: 'residual.onnx', sidecar: false });
      t.same(model.weights!().residual, [1], 'read back: y adds feature 1');
      t.same(((model.metadata.training as Record<string, unknown>)['options'] as Record<string, unknown>)['residual'], true);
      await model.release();
    });
  }
}
