import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel, type Model } from '../../runtime/model/load-model';
import { main as exportMain } from '../../models/toolchain/export-command';
import type { WeightsJson } from '../../models/toolchain/export-file';
import { captureOutput } from '../helpers/capture';
import { randomWeights } from '../../runtime/contract/weights';
import { buildLstmModel } from '../../runtime/onnx/lstm-graph';
import { encodeMetadata } from '../../runtime/model/metadata';
import { testMetadata } from '../helpers/models';

const root = join(__dirname, '..', '..');
const pytorch = join(root, 'test', 'fixtures', 'pytorch', 'lstm2.onnx');
const int8 = join(root, 'models', 'generic', 'generic-int8.onnx');

async function outputs(m: Model, seed: number): Promise<Float32Array[]> {
  const { F, H, L } = m.dims;
  const B = 3;
  const seq = 4;
  const x = Float32Array.from({ length: seq * B * F }, (_, i) => Math.sin(i * 0.7 + seed));
  const h = Float32Array.from({ length: L * B * H }, (_, i) => 0.5 * Math.cos(i + seed));
  const c = Float32Array.from({ length: L * B * H }, (_, i) => 0.5 * Math.sin(i * 3 + seed));
  const o = await m.backend.run(x, h, c, seq, B);
  return [o.y, o.hn, o.cn];
}

function maxDiff(a: Float32Array[], b: Float32Array[]): number {
  let d = 0;
  a.forEach((x, k) => x.forEach((v, i) => (d = Math.max(d, Math.abs(v - b[k]![i]!)))));
  return d;
}

async function quietly<T>(f: () => Promise<T>): Promise<T> {
  return (await captureOutput(f)).value;
}

t.test('export writes a PyTorch model (sidecar, own tensor names) in the canonical form, computing the same', async (t) => {
  const dir = t.testdir();
  const out = join(dir, 'canonical.onnx');
  t.equal(await quietly(() => exportMain([pytorch, '--out', out])), 0);
  const a = await loadModel(pytorch);
  const b = await loadModel(out, { sidecar: false });
  t.same(b.metadata.io, { x: 'x', h0: 'h0', c0: 'c0', y: 'y', hn: 'hn', cn: 'cn' }, 'default tensor names');
  t.same(b.metadata.features, a.metadata.features, 'metadata travels inside the file');
  t.ok(maxDiff(await outputs(a, 1), await outputs(b, 1)) < 1e-6, 'same outputs');
  await a.release();
  await b.release();
});

t.test('export of an int8 model writes float32 weights that compute what the int8 graph computes', async (t) => {
  const dir = t.testdir();
  const out = join(dir, 'fp32.onnx');
  t.equal(await quietly(() => exportMain([int8, '--out', out])), 0);
  const a = await loadModel(int8);
  const b = await loadModel(out);
  t.equal(b.metadata.quantization.scheme, 'none');
  t.ok(maxDiff(await outputs(a, 2), await outputs(b, 2)) < 1e-5);
  await a.release();
  await b.release();
});

t.test('export to JSON gives the weights with their shapes and the metadata', async (t) => {
  const dir = t.testdir();
  const out = join(dir, 'w.json');
  t.equal(await quietly(() => exportMain([pytorch, '--out', out])), 0);
  const j = JSON.parse(readFileSync(out, 'utf8')) as WeightsJson;
  t.equal(j.format, 1);
  t.equal(j.layers.length, 2);
  t.equal(j.layers[0]!.W.length, 4 * j.hiddenSize * j.inputSize);
  t.equal(j.layers[1]!.R.length, 4 * j.hiddenSize * j.hiddenSize);
  t.equal(j.head.b.length, j.metadata.targets.length);
});

t.test('export of a residual model keeps the skip, in ONNX and in JSON', async (t) => {
  const dir = t.testdir();
  const src = join(dir, 'residual.onnx');
  const weights = { ...randomWeights(2, 4, 1, 1, 3), residual: [1] };
  writeFileSync(src, buildLstmModel(weights, { metadata: encodeMetadata(testMetadata({ hidden: 4, features: ['a', 'b'], targets: ['b'] }, weights)) }));
  const out = join(dir, 'canonical.onnx');
  t.equal(await quietly(() => exportMain([src, '--out', out])), 0);
  const a = await loadModel(src);
  const b = await loadModel(out);
  t.same(b.weights!().residual, [1]);
  t.ok(maxDiff(await outputs(a, 3), await outputs(b, 3)) < 1e-6, 'same outputs');
  await a.release();
  await b.release();
  const json = join(dir, 'w.json');
  t.equal(await quietly(() => exportMain([src, '--out', json])), 0);
  t.same((JSON.parse(readFileSync(json, 'utf8')) as WeightsJson).residual, [1]);
});

t.test('bad arguments are named; nothing is written', async (t) => {
  const dir = t.testdir();
  const { value: codes, stderr: err } = await captureOutput(async () => [
    await exportMain([pytorch, '--out', join(dir, 'x.txt')]),
    await exportMain([join(dir, 'missing.onnx'), '--out', join(dir, 'y.onnx')]),
  ]);
  t.same(codes, [2, 1]);
  t.match(err, /option --out: expected a file name ending in \.onnx or \.json, found ".*x\.txt"/);
  t.match(err, /missing\.onnx/);
});
