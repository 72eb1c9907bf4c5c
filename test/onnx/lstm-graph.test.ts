import t from 'tap';
import * as ort from 'onnxruntime-node';
import { buildLstmModel } from '../../runtime/onnx/lstm-graph';
import { decodeModel } from '../../runtime/onnx/decode';
import { tensorFloats } from '../../runtime/onnx/types';
import { randomWeights } from '../../runtime/contract/weights';
import { referenceForward } from '../../runtime/backend/reference-lstm';

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

for (const layers of [1, 2]) {
  t.test(`built ${layers}-layer model runs in onnxruntime-node and matches the reference`, async (t) => {
    const w = randomWeights(3, 8, 2, layers, 7, true);
    const bytes = buildLstmModel(w, { metadata: { 'edgelstm.format': '1' } });
    const session = await ort.InferenceSession.create(bytes);
    t.same(session.inputNames, ['x', 'h0', 'c0']);
    t.same(session.outputNames, ['y', 'hn', 'cn', 'y_logvar']);
    const seq = 5;
    const batch = 3;
    const x = Float32Array.from({ length: seq * batch * 3 }, (_, i) => Math.sin(i));
    const h0 = Float32Array.from({ length: layers * batch * 8 }, (_, i) => Math.cos(i) * 0.5);
    const c0 = Float32Array.from({ length: layers * batch * 8 }, (_, i) => Math.sin(i * 3) * 0.5);
    const out = await session.run({
      x: new ort.Tensor('float32', x, [seq, batch, 3]),
      h0: new ort.Tensor('float32', h0, [layers, batch, 8]),
      c0: new ort.Tensor('float32', c0, [layers, batch, 8]),
    });
    const ref = referenceForward(w, x, h0, c0, seq, batch);
    t.ok(maxDiff(out['y']!.data as Float32Array, ref.y) < 1e-5, 'y');
    t.ok(maxDiff(out['hn']!.data as Float32Array, ref.hn) < 1e-5, 'hn');
    t.ok(maxDiff(out['cn']!.data as Float32Array, ref.cn) < 1e-5, 'cn');
    t.ok(maxDiff(out['y_logvar']!.data as Float32Array, ref.ylogvar!) < 1e-5, 'y_logvar');
    await session.release();
  });
}

t.test('decode reads back metadata, inputs and initializers', async (t) => {
  const w = randomWeights(2, 4, 1, 1, 3);
  const m = decodeModel(buildLstmModel(w, { metadata: { 'edgelstm.name': '"tiny"' }, names: { x: 'input' } }));
  t.equal(m.metadata.get('edgelstm.name'), '"tiny"');
  t.same(m.graph.inputs.map((i) => i.name), ['input', 'h0', 'c0']);
  t.same(m.graph.inputs[0]!.shape, ['seq', 'batch', 2]);
  t.same(m.opsetImports, [{ domain: '', version: 17 }]);
  const W = m.graph.initializers.find((i) => i.name === 'lstm0_W')!;
  t.same(W.dims, [1, 16, 2]);
});

t.test('weights decode the same from a model that sits at an odd offset of a larger buffer (as a file read may)', async (t) => {
  const w = randomWeights(2, 4, 1, 1, 11);
  const bytes = buildLstmModel(w);
  const big = Buffer.alloc(bytes.length + 13);
  big.set(bytes, 13);
  const model = decodeModel(big.subarray(13));
  const W = model.graph.initializers.find((i) => i.name === model.graph.nodes.find((n) => n.opType === 'LSTM')!.inputs[1]);
  t.ok(W, 'the LSTM node names its W initializer');
  const floats = tensorFloats(W!);
  t.equal(floats.length, w.layers[0]!.W.length);
  t.ok(maxDiff(floats, w.layers[0]!.W) === 0, 'bit-identical W');
});
