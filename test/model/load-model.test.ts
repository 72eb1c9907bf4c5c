import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel } from '../../runtime/model/load-model';
import { buildLstmModel } from '../../runtime/onnx/lstm-graph';
import { encodeMetadata } from '../../runtime/model/metadata';
import { ModelError } from '../../runtime/errors';
import { makeTestModel, maxAbsDiff, tempDir } from '../helpers/models';

const seq = 6;
const batch = 4;

for (const layers of [1, 2]) {
  t.test(`native, wasm and reference agree within 1e-5 (L=${layers}, with y_logvar)`, async (t) => {
    const { bytes } = makeTestModel({ features: ['a', 'b', 'c'], targets: ['a', 'c'], hidden: 16, layers, logvar: true, seed: 11 });
    const H = 16;
    const x = Float32Array.from({ length: seq * batch * 3 }, (_, i) => Math.sin(i * 0.7) * 2);
    const h = Float32Array.from({ length: layers * batch * H }, (_, i) => Math.cos(i) * 0.4);
    const c = Float32Array.from({ length: layers * batch * H }, (_, i) => Math.sin(i * 1.3));
    const outs = [];
    for (const backend of ['native', 'wasm', 'reference'] as const) {
      const m = await loadModel(bytes, { backend });
      t.equal(m.backend.kind, backend);
      t.same(m.dims, { F: 3, H, L: layers, T: 2 });
      t.same(m.targetIndex, [0, 2]);
      outs.push(await m.backend.run(x, h, c, seq, batch));
      await m.release();
    }
    const [native, wasm, ref] = outs;
    for (const k of ['y', 'hn', 'cn', 'ylogvar'] as const) {
      t.ok(maxAbsDiff(native![k]!, ref![k]!) < 1e-5, `native = reference: ${k}`);
      t.ok(maxAbsDiff(wasm![k]!, ref![k]!) < 1e-5, `wasm = reference: ${k}`);
    }
  });
}

t.test('metadata from a sidecar overrides the file and the fingerprint is the SHA-256 of the bytes', async (t) => {
  const dir = tempDir();
  const { bytes } = makeTestModel();
  const file = join(dir, 'm.onnx');
  writeFileSync(file, bytes);
  writeFileSync(join(dir, 'm.json'), JSON.stringify({ 'edgelstm.name': 'renamed', 'edgelstm.version': '2.1.0' }));
  const m = await loadModel(file);
  t.equal(m.id, 'renamed@2.1.0');
  t.match(m.fingerprint, /^[0-9a-f]{64}$/);
  const again = await loadModel(file, { sidecar: false });
  t.equal(again.id, 'test@1.0.0');
  t.equal(again.fingerprint, m.fingerprint);
  await m.release();
  await again.release();
});

t.test('contract violations are refused with the file, key or tensor, expected and found', async (t) => {
  const { bytes, weights, metadata } = makeTestModel({ features: ['a', 'b'] });
  const dir = tempDir();
  const cases: Array<[string, Uint8Array, RegExp]> = [
    ['truncated', bytes.subarray(0, Math.floor(bytes.length / 2)), /not a valid ONNX file/],
    ['garbage', new TextEncoder().encode('hello, this is not onnx at all'), /not a valid ONNX file/],
    ['missing key', buildLstmModel(weights, { metadata: { ...encodeMetadata(metadata), 'edgelstm.features': '' } }), /edgelstm.features/],
    ['feature count', buildLstmModel(weights, { metadata: encodeMetadata({ ...metadata, features: ['a', 'b', 'c'], targets: ['a', 'b'], normalization: { mode: 'global', mean: [0, 0, 0], std: [1, 1, 1] } }) }), /x dim 2: feature count .*expected 3, found 2/],
    ['tensor names', buildLstmModel(weights, { metadata: encodeMetadata({ ...metadata, io: { ...metadata.io, x: 'input' } }) }), /input tensor is missing.*expected an input named "input"/],
    ['targets', buildLstmModel(weights, { metadata: encodeMetadata({ ...metadata, targets: ['zz'] }) }), /edgelstm.targets/],
    ['bad json', buildLstmModel(weights, { metadata: { ...encodeMetadata(metadata), 'edgelstm.io': '{oops' } }), /edgelstm.io: metadata value is not valid JSON/],
  ];
  for (const [name, b, re] of cases) {
    const file = join(dir, `${name.replace(/ /g, '-')}.onnx`);
    writeFileSync(file, b);
    const err = await loadModel(file).then(() => undefined, (e: unknown) => e);
    t.type(err, ModelError, name);
    t.match((err as Error).message, re, name);
    t.match((err as Error).message, file, `${name}: names the file`);
    t.equal((err as ModelError).code, 'E_MODEL');
  }
  const missing = await loadModel(join(dir, 'nope.onnx')).then(() => undefined, (e: unknown) => e);
  t.match((missing as Error).message, /cannot read model file/);
});
