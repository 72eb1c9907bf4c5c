import t from 'tap';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel, type Model } from '../../runtime/model/load-model';
import { buildLstmModel } from '../../runtime/onnx/lstm-graph';
import { decodeModel } from '../../runtime/onnx/decode';
import { encodeModel } from '../../runtime/onnx/encode';
import { halfAtLeast, halfBits, halfValue } from '../../runtime/onnx/half';
import { encodeMetadata } from '../../runtime/model/metadata';
import { quantizeModel } from '../../models/quantize/quantize-model';
import { main as quantizeMain } from '../../models/quantize/quantize-command';
import { makeTestModel, maxAbsDiff, tempDir } from '../helpers/models';
import { captureOutput } from '../helpers/capture';

async function quietly(run: () => Promise<number>): Promise<{ code: number; stderr: string }> {
  const { value: code, stderr } = await captureOutput(run);
  return { code, stderr };
}

/** A smooth signal: two slow sines, as a sensor's normalized reading would look. */
function smoothSignal(n: number, phase: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => Math.sin((2 * Math.PI * i) / 48 + phase) * 0.8 + Math.sin((2 * Math.PI * i) / 200 + 2 * phase) * 0.4);
}

/** One-step-ahead forecast RMSE over `devices` series run as one batch (seq = series length). */
async function forecastRmse(m: Model, devices: number, n: number): Promise<number> {
  const { H, L } = m.dims;
  const x = new Float32Array(n * devices);
  for (let d = 0; d < devices; d++) smoothSignal(n, d * 0.7).forEach((v, i) => (x[i * devices + d] = v));
  const out = await m.backend.run(x, new Float32Array(L * devices * H), new Float32Array(L * devices * H), n, devices);
  let se = 0;
  let count = 0;
  for (let i = 0; i + 1 < n; i++) {
    for (let d = 0; d < devices; d++) {
      se += (out.y[i * devices + d]! - x[(i + 1) * devices + d]!) ** 2;
      count++;
    }
  }
  return Math.sqrt(se / count);
}

t.test('weight mode: file size against fp32 at H=32 and H=64, measured and reported', async (t) => {
  for (const [hidden, atLeast] of [[32, 2.9], [64, 3.5]] as const) {
    const { bytes } = makeTestModel({ hidden, seed: 5 });
    const q = quantizeModel(bytes);
    const ratio = bytes.length / q.length;
    t.comment(`H=${hidden} L=1 F=1: fp32 ${bytes.length} B, int8-weight ${q.length} B, ${ratio.toFixed(2)}x smaller`);
    t.ok(ratio >= atLeast, `H=${hidden}: ${ratio.toFixed(2)}x >= ${atLeast}x`);
  }
  const { bytes } = makeTestModel({ hidden: 32, layers: 2, seed: 5 });
  const ratio = bytes.length / quantizeModel(bytes).length;
  t.comment(`H=32 L=2: ${ratio.toFixed(2)}x smaller`);
  t.ok(ratio >= 3.2, `H=32 L=2: ${ratio.toFixed(2)}x >= 3.2x`);
});

t.test('weight mode: int8 storage, one scale per gate row, folded to float32 weights; float32 activations', async (t) => {
  const { bytes } = makeTestModel({ hidden: 16, layers: 2, features: ['a', 'b'], seed: 2 });
  const g = decodeModel(quantizeModel(bytes)).graph;
  const int8 = g.initializers.filter((i) => i.dataType === 3);
  t.same(int8.map((i) => i.name).sort(), ['lstm0_R_q', 'lstm0_W_q', 'lstm1_R_q', 'lstm1_W_q'], 'W and R of both layers are int8');
  for (const q of int8) t.equal(q.dims[1], 64, `${q.name}: [1, 4H, inputs]`);
  for (const l of [0, 1]) {
    const scale = g.initializers.find((i) => i.name === `lstm${l}_scale_f16`)!;
    t.same(scale.dims, [1, 64, 1], `layer ${l}: one scale per gate row`);
  }
  t.notOk(g.nodes.some((n) => n.opType === 'DequantizeLinear'), 'no DequantizeLinear: ORT would not fold it');
  t.same(g.inputs.map((i) => i.elemType), [1, 1, 1]);
  t.notOk(g.nodes.some((n) => n.domain === 'com.microsoft'), 'no contrib ops in the default mode');
});

t.test('weight mode: native, wasm and reference agree on the quantized model within 1e-5; fp32 is close', async (t) => {
  const H = 16;
  const { bytes } = makeTestModel({ hidden: H, layers: 2, features: ['a', 'b'], targets: ['b'], logvar: true, seed: 9 });
  const q = quantizeModel(bytes);
  const seq = 7;
  const batch = 3;
  const x = Float32Array.from({ length: seq * batch * 2 }, (_, i) => Math.sin(i * 0.37) * 1.5);
  const h = Float32Array.from({ length: 2 * batch * H }, (_, i) => Math.cos(i) * 0.5);
  const c = Float32Array.from({ length: 2 * batch * H }, (_, i) => Math.sin(i * 1.9));
  const outs = [];
  for (const backend of ['native', 'wasm', 'reference'] as const) {
    const m = await loadModel(q, { backend });
    outs.push(await m.backend.run(x, h, c, seq, batch));
    await m.release();
  }
  const fp = await loadModel(bytes, { backend: 'reference' });
  const f = await fp.backend.run(x, h, c, seq, batch);
  for (const k of ['y', 'hn', 'cn', 'ylogvar'] as const) {
    t.ok(maxAbsDiff(outs[0]![k]!, outs[2]![k]!) < 1e-5, `native = reference: ${k}`);
    t.ok(maxAbsDiff(outs[1]![k]!, outs[2]![k]!) < 1e-5, `wasm = reference: ${k}`);
    const d = maxAbsDiff(outs[2]![k]!, f[k]!);
    t.ok(d > 0 && d < 0.02, `int8 vs fp32 ${k}: ${d.toExponential(2)}`);
  }
});

t.test('weight mode: forecast RMSE on a smooth signal within 1% of the fp32 model (random weights, H=32 and H=64)', async (t) => {
  for (const hidden of [32, 64]) {
    const { bytes } = makeTestModel({ hidden, seed: 21 });
    const fp = await loadModel(bytes);
    const q = await loadModel(quantizeModel(bytes));
    const a = await forecastRmse(fp, 16, 400);
    const b = await forecastRmse(q, 16, 400);
    const rel = Math.abs(b - a) / a;
    t.comment(`H=${hidden}: RMSE fp32 ${a.toFixed(6)}, int8-weight ${b.toFixed(6)}, ratio ${(b / a).toFixed(5)}`);
    t.ok(rel < 0.01, `H=${hidden}: |RMSE int8 / fp32 - 1| = ${(rel * 100).toFixed(3)}% < 1%`);
    await fp.release();
    await q.release();
  }
});

/** Device 0's outputs alone, then in batches whose other devices differ (bigger values, more of them). */
async function batchCompositions(m: Model, seq: number): Promise<{ y: Float32Array[]; hn: Float32Array[] }> {
  const { H, L, F } = m.dims;
  const mine = Float32Array.from({ length: seq * F }, (_, i) => Math.sin(i * 0.5) * 0.3);
  const ys: Float32Array[] = [];
  const hns: Float32Array[] = [];
  for (const [batch, amplitude] of [[1, 0], [8, 1], [64, 5], [300, 20]] as const) {
    const x = new Float32Array(seq * batch * F);
    for (let s = 0; s < seq; s++) {
      for (let b = 0; b < batch; b++) {
        for (let f = 0; f < F; f++) x[(s * batch + b) * F + f] = b === 0 ? mine[s * F + f]! : amplitude * Math.cos(s + b * 1.3 + f);
      }
    }
    // State layout [L, batch, H]: element i belongs to device floor(i / H) % batch.
    const h = Float32Array.from({ length: L * batch * H }, (_, i) => (Math.floor(i / H) % batch === 0 ? 0 : Math.sin(i) * 0.9));
    const c = Float32Array.from({ length: L * batch * H }, (_, i) => (Math.floor(i / H) % batch === 0 ? 0 : Math.cos(i) * amplitude));
    const out = await m.backend.run(x, h, c, seq, batch);
    ys.push(Float32Array.from({ length: seq }, (_, s) => out.y[s * batch]!));
    hns.push(Float32Array.from({ length: L * H }, (_, i) => out.hn[Math.floor(i / H) * batch * H + (i % H)]!));
  }
  return { y: ys, hn: hns };
}

for (const backend of ['native', 'wasm'] as const) {
  t.test(`weight mode is batch-invariant (${backend}): a device's outputs are bit-identical whatever its batch-mates`, async (t) => {
    const { bytes } = makeTestModel({ hidden: 32, layers: 2, seed: 4 });
    const m = await loadModel(quantizeModel(bytes), { backend });
    const { y, hn } = await batchCompositions(m, 6);
    for (let i = 1; i < y.length; i++) {
      t.same(Array.from(y[i]!), Array.from(y[0]!), `y, composition ${i}`);
      t.ok(y[i]!.every((v, k) => Object.is(v, y[0]![k])), `y bit-identical, composition ${i}`);
      t.ok(hn[i]!.every((v, k) => Object.is(v, hn[0]![k])), `hn bit-identical, composition ${i}`);
    }
    await m.release();
  });
}

t.test('dynamic mode (opt-in): DynamicQuantizeLSTM, caveat in the metadata, batch dependence measured', async (t) => {
  const { bytes } = makeTestModel({ hidden: 32, layers: 2, seed: 4 });
  const q = quantizeModel(bytes, { mode: 'dynamic' });
  const onnx = decodeModel(q);
  t.equal(onnx.graph.nodes.filter((n) => n.opType === 'DynamicQuantizeLSTM' && n.domain === 'com.microsoft').length, 2);
  t.ok(onnx.opsetImports.some((o) => o.domain === 'com.microsoft'));
  const meta = JSON.parse(onnx.metadata.get('edgelstm.quantization')!) as Record<string, unknown>;
  t.equal(meta['scheme'], 'int8-dynamic');
  t.equal(meta['batchInvariant'], false);
  t.match(String(meta['caveat']), /batch/);
  t.comment(`dynamic: ${q.length} B (${(bytes.length / q.length).toFixed(2)}x smaller than fp32)`);
  for (const backend of ['native', 'wasm'] as const) {
    const m = await loadModel(q, { backend });
    t.equal(m.metadata.quantization.scheme, 'int8-dynamic');
    const { y, hn } = await batchCompositions(m, 6);
    let worst = 0;
    for (let i = 1; i < y.length; i++) worst = Math.max(worst, maxAbsDiff(y[i]!, y[0]!), maxAbsDiff(hn[i]!, hn[0]!));
    t.comment(`DynamicQuantizeLSTM batch dependence (${backend}): device 0 alone vs with batch-mates up to 300 devices of amplitude 20: max |diff| ${worst.toExponential(2)}`);
    t.ok(worst > 0, `${backend}: outputs depend on the batch (the caveat is true): ${worst.toExponential(2)}`);
    await m.release();
  }
  const ref = await loadModel(q, { backend: 'reference' });
  t.equal(ref.dims.H, 32, 'the reference backend reads DynamicQuantizeLSTM weights');
  await ref.release();
});

t.test('metadata: quantization key set, everything else copied, producer notes kept', async (t) => {
  const { weights, metadata } = makeTestModel({ hidden: 8, seed: 3 });
  const m = { ...metadata, name: 'pump', version: '2.3.4', training: { epochs: 12, note: 'kept' } };
  const bytes = buildLstmModel(weights, { metadata: { ...encodeMetadata(m), 'producer.note': 'hello' } });
  const q = decodeModel(quantizeModel(bytes));
  t.same(JSON.parse(q.metadata.get('edgelstm.quantization')!), { scheme: 'int8-weight', perChannel: true });
  for (const k of ['name', 'version', 'features', 'targets', 'normalization', 'io', 'training', 'format']) {
    t.equal(q.metadata.get(`edgelstm.${k}`), encodeMetadata(m)[`edgelstm.${k}`], `edgelstm.${k} copied`);
  }
  t.equal(q.metadata.get('producer.note'), 'hello');
  const perTensor = decodeModel(quantizeModel(bytes, { perChannel: false }));
  t.same(JSON.parse(perTensor.metadata.get('edgelstm.quantization')!), { scheme: 'int8-weight', perChannel: false });
  t.same(perTensor.graph.initializers.find((i) => i.name === 'lstm0_scale_f16')!.dims, [], 'per-tensor: one scalar scale');
  const loaded = await loadModel(encodeBack(perTensor), { backend: 'reference' });
  t.equal(loaded.metadata.quantization.scheme, 'int8-weight');
});

function encodeBack(m: ReturnType<typeof decodeModel>): Uint8Array {
  return encodeModel(m);
}

t.test('the PyTorch fixture quantizes with its sidecar folded in, tensor names kept', async (t) => {
  const dir = tempDir();
  const out = join(dir, 'lstm2-int8.onnx');
  const src = join(__dirname, '..', 'fixtures', 'pytorch', 'lstm2.onnx');
  const { code, stderr } = await quietly(() => quantizeMain([src, out]));
  t.equal(code, 0, stderr);
  t.match(stderr, /wrote .*lstm2-int8\.onnx/);
  const m = await loadModel(out, { sidecar: false });
  t.equal(m.metadata.io.x, 'sensor_in');
  t.equal(m.metadata.quantization.scheme, 'int8-weight');
  await m.release();
});

t.test('command errors name the option or the file, and never leave OUT behind', async (t) => {
  const dir = tempDir();
  const { bytes } = makeTestModel({ hidden: 8 });
  const input = join(dir, 'in.onnx');
  writeFileSync(input, bytes);
  const out = join(dir, 'out.onnx');
  const cases: Array<[string[], RegExp, number]> = [
    [[input, out, '--mode', 'fast'], /--mode: expected one of weight, dynamic, static, found "fast"/, 2],
    [[input], /expected IN\.onnx and OUT\.onnx, found 1 argument/, 2],
    [[join(dir, 'missing.onnx'), out], /missing\.onnx: cannot read model file/, 1],
    [[input, out, '--bogus'], /unknown option --bogus/, 2],
  ];
  writeFileSync(join(dir, 'garbage.onnx'), 'not a model');
  cases.push([[join(dir, 'garbage.onnx'), out], /garbage\.onnx.*not a valid ONNX file/, 1]);
  for (const [argv, re, want] of cases) {
    const { code, stderr } = await quietly(() => quantizeMain(argv));
    t.equal(code, want, argv.join(' '));
    t.match(stderr, re, argv.join(' '));
    t.notOk(existsSync(out), 'no output written');
  }
  // Quantizing twice is refused, naming the key.
  const once = join(dir, 'once.onnx');
  t.equal((await quietly(() => quantizeMain([input, once]))).code, 0);
  const twice = await quietly(() => quantizeMain([once, out]));
  t.equal(twice.code, 1);
  t.match(twice.stderr, /once\.onnx: edgelstm\.quantization: model is already quantized/);
  t.notOk(existsSync(out));
  t.ok(readFileSync(once).length < bytes.length);
});

t.test('float16 scales: rounded up to a half value exactly representable, never below the float32 scale', async (t) => {
  for (const v of [1e-6, 3.3e-5, 6.103515625e-5, 1.234e-3, 0.0078125, 0.1, 1, 1.0009765625, 3.14159, 60000]) {
    const h = halfAtLeast(v);
    t.ok(h >= v, `${v} -> ${h}`);
    t.ok(h / v < 1 + 2 ** -9 || v < 6.2e-5, `${v}: within one half-precision step`);
    t.equal(halfValue(halfBits(h)), h, `${h} round-trips`);
  }
  t.equal(halfBits(1), 0x3c00);
  t.equal(halfBits(-2), 0xc000);
  t.equal(halfBits(65504), 0x7bff);
  t.equal(halfBits(1e6), 0x7c00);
});
