import t from 'tap';
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel } from '../../runtime/model/load-model';
import { decodeModel } from '../../runtime/onnx/decode';
import { main as importMain } from '../../models/import/import-command';
import { maxAbsDiff, tempDir } from '../helpers/models';
import { captureOutput } from '../helpers/capture';

/** Made by models/fixtures/make_pytorch_fixture.py (torch.onnx.export of nn.LSTM + nn.Linear, non-default names). */
const dir = join(__dirname, '..', 'fixtures', 'pytorch');
const onnxFile = join(dir, 'lstm2.onnx');
const sidecar = join(dir, 'lstm2.json');

interface Expected {
  seq: number;
  batch: number;
  x: number[];
  h0: number[];
  c0: number[];
  y: number[];
  hn: number[];
  cn: number[];
}
const expected = JSON.parse(readFileSync(join(dir, 'lstm2.expected.json'), 'utf8')) as Expected;

t.test('the fixture is what the script says: PyTorch producer, names that are not the defaults, dynamic axes', async (t) => {
  const m = decodeModel(readFileSync(onnxFile));
  t.equal(m.producerName, 'pytorch');
  t.same(m.graph.inputs.map((i) => i.name), ['sensor_in', 'state_h', 'state_c']);
  t.same(m.graph.outputs.map((o) => o.name), ['pred', 'state_h_out', 'state_c_out']);
  t.same(m.graph.inputs[0]!.shape, ['seq', 'batch', 2]);
  t.equal(m.graph.nodes.filter((n) => n.opType === 'LSTM').length, 2);
  t.notOk([...m.metadata.keys()].some((k) => k.startsWith('edgelstm.')), 'no edgelstm metadata inside: the sidecar supplies it');
});

for (const backend of ['native', 'wasm', 'reference'] as const) {
  t.test(`${backend}: loads with the sidecar and matches PyTorch's own outputs within 1e-5`, async (t) => {
    const m = await loadModel(onnxFile, { backend });
    t.same(m.dims, { F: 2, H: 8, L: 2, T: 1 });
    t.equal(m.id, 'pytorch-lstm2@0.1.0');
    const out = await m.backend.run(Float32Array.from(expected.x), Float32Array.from(expected.h0), Float32Array.from(expected.c0), expected.seq, expected.batch);
    for (const k of ['y', 'hn', 'cn'] as const) {
      const d = maxAbsDiff(out[k], expected[k]);
      t.ok(d < 1e-5, `${k}: max |diff| ${d.toExponential(2)} < 1e-5`);
    }
    await m.release();
  });
}

t.test('without its sidecar the PyTorch file is refused, naming the missing key', async (t) => {
  const err = await loadModel(onnxFile, { sidecar: false }).then(() => undefined, (e: unknown) => e);
  t.match((err as Error).message, /edgelstm\.\w+: metadata key is missing/);
});

t.test('import folds the manifest: the file then loads alone, on every backend, with the same numbers', async (t) => {
  const work = tempDir();
  const lone = join(work, 'lstm2.onnx'); // no lstm2.json beside it
  const out = join(work, 'lstm2-single.onnx');
  copyFileSync(onnxFile, lone);
  const { value: code } = await captureOutput(() => importMain([lone, '--manifest', sidecar, '--out', out]));
  t.equal(code, 0);
  t.notOk(existsSync(out.replace(/\.onnx$/, '.json')));
  for (const backend of ['native', 'reference'] as const) {
    const m = await loadModel(out, { backend });
    t.equal(m.id, 'pytorch-lstm2@0.1.0');
    t.same(m.metadata.io, JSON.parse(readFileSync(sidecar, 'utf8'))['edgelstm.io']);
    const r = await m.backend.run(Float32Array.from(expected.x), Float32Array.from(expected.h0), Float32Array.from(expected.c0), expected.seq, expected.batch);
    t.ok(maxAbsDiff(r.y, expected.y) < 1e-5, `${backend}: y matches PyTorch`);
    await m.release();
  }
  // The graph bytes are untouched: only metadata_props changed.
  const before = decodeModel(readFileSync(onnxFile));
  const after = decodeModel(readFileSync(out));
  t.same(after.graph, before.graph);
});
