import t from 'tap';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { main as inspectMain } from '../../models/import/inspect-command';
import { main as importMain } from '../../models/import/import-command';
import type { ModelReport } from '../../models/import/inspect-model';
import { quantizeModel } from '../../models/quantize/quantize-model';
import { loadModel } from '../../runtime/model/load-model';
import { makeTestModel, tempDir } from '../helpers/models';
import { captureOutput } from '../helpers/capture';

const fixture = join(__dirname, '..', 'fixtures', 'pytorch', 'lstm2.onnx');
const manifest = join(__dirname, '..', 'fixtures', 'pytorch', 'lstm2.json');

async function capture(run: () => Promise<number>): Promise<{ code: number; stdout: string; stderr: string }> {
  const { value: code, stdout, stderr } = await captureOutput(run, { stdout: true });
  return { code, stdout, stderr };
}

t.test('inspect prints tensors, shapes, size, fingerprint, quantization, op counts and metadata', async (t) => {
  const { code, stdout } = await capture(() => inspectMain([fixture]));
  t.equal(code, 0);
  const sha = createHash('sha256').update(readFileSync(fixture)).digest('hex');
  t.match(stdout, `sha256       ${sha}`);
  t.match(stdout, `size         ${readFileSync(fixture).length} bytes`);
  t.match(stdout, /sensor_in\s+float32\s+\[seq, batch, 2\]/);
  t.match(stdout, /state_h_out\s+float32\s+\[2, batch, 8\]/);
  t.match(stdout, /LSTM\s+2/);
  t.match(stdout, /quantization \{"scheme":"none"\}/);
  t.match(stdout, /contract\s+ok/);
  t.match(stdout, /metadata checked with .*lstm2\.json/);
});

t.test('inspect --json: one object; a quantized model shows int8 weights and its scheme', async (t) => {
  const dir = tempDir();
  const { bytes } = makeTestModel({ hidden: 16, layers: 2 });
  const file = join(dir, 'q.onnx');
  writeFileSync(file, quantizeModel(bytes));
  const { code, stdout } = await capture(() => inspectMain([file, '--json']));
  t.equal(code, 0);
  const r = JSON.parse(stdout) as ModelReport;
  t.equal(r.bytes, readFileSync(file).length);
  t.match(r.sha256, /^[0-9a-f]{64}$/);
  t.same(r.quantization, { scheme: 'int8-weight', perChannel: true });
  t.ok((r.weightBytes['int8'] ?? 0) > (r.weightBytes['float32'] ?? 0), 'most weight bytes are int8');
  t.equal(r.opCounts['LSTM'], 2);
  t.same(r.metadata['edgelstm.quantization'], { scheme: 'int8-weight', perChannel: true });
  t.equal(r.contractError, null);
  t.same(r.inputs.map((i) => i.name), ['x', 'h0', 'c0']);
});

t.test('inspect shows a model that breaks the contract, and why; bad files and arguments are named', async (t) => {
  const dir = tempDir();
  const lone = join(dir, 'lstm2.onnx');
  copyFileSync(fixture, lone);
  const r = await capture(() => inspectMain([lone, '--json']));
  t.equal(r.code, 1, 'a model the loader refuses: exit code 1');
  t.match((JSON.parse(r.stdout) as ModelReport).contractError, /edgelstm\.\w+: metadata key is missing/);
  writeFileSync(join(dir, 'junk.onnx'), 'definitely not protobuf \u0000\u00ff');
  const cases: Array<[string[], RegExp, number]> = [
    [[join(dir, 'nope.onnx')], /nope\.onnx: cannot read model file/, 1],
    [[join(dir, 'junk.onnx')], /junk\.onnx: not a valid ONNX file/, 1],
    [[], /expected MODEL, found 0 arguments/, 2],
    [[lone, '--jsn'], /unknown option --jsn/, 2],
  ];
  for (const [argv, re, want] of cases) {
    const { code, stderr } = await capture(() => inspectMain(argv));
    t.equal(code, want, argv.join(' '));
    t.match(stderr, re, argv.join(' '));
  }
});

t.test('import: a bad manifest is refused naming the manifest and key; nothing is written', async (t) => {
  const dir = tempDir();
  const out = join(dir, 'out.onnx');
  const good = JSON.parse(readFileSync(manifest, 'utf8')) as Record<string, unknown>;
  const cases: Array<[string, string, RegExp]> = [
    ['typo.json', JSON.stringify({ ...good, 'edgelstm.featurs': ['a'] }), /typo\.json: edgelstm\.featurs: manifest has an unknown key/],
    ['notjson.json', '{ "edgelstm.name": ', /notjson\.json: manifest is not valid JSON/],
    ['array.json', '[1, 2]', /array\.json: manifest must be a JSON object/],
    ['version.json', JSON.stringify({ ...good, 'edgelstm.version': 'one' }), /version\.json: edgelstm\.version: metadata value is invalid/],
    ['io.json', JSON.stringify({ ...good, 'edgelstm.io': { ...(good['edgelstm.io'] as object), x: 'input' } }), /input tensor is missing.*"input"/],
    ['features.json', JSON.stringify({ ...good, 'edgelstm.features': ['a', 'b', 'c'], 'edgelstm.targets': ['a'], 'edgelstm.normalization': { mode: 'per-device' } }), /feature count.*expected 3, found 2/],
  ];
  for (const [name, text, re] of cases) {
    const m = join(dir, name);
    writeFileSync(m, text);
    const { code, stderr } = await capture(() => importMain([fixture, '--manifest', m, '--out', out]));
    t.equal(code, 1, name);
    t.match(stderr, re, name);
    t.notOk(existsSync(out), `${name}: no output`);
  }
  t.same(readdirSync(dir).filter((f) => f.endsWith('.tmp')), [], 'no temporary files left');
  const missing = await capture(() => importMain([fixture, '--out', out]));
  t.equal(missing.code, 2);
  t.match(missing.stderr, /--manifest/);
  const noModel = await capture(() => importMain([join(dir, 'absent.onnx'), '--manifest', manifest, '--out', out]));
  t.match(noModel.stderr, /absent\.onnx: cannot read model file/);
});

t.test('import in place: the file is replaced whole, keeps its graph, and a failed import leaves it as it was', async (t) => {
  const dir = tempDir();
  const file = join(dir, 'm.onnx');
  copyFileSync(fixture, file);
  t.equal((await capture(() => importMain([file, '--manifest', manifest, '--out', file]))).code, 0);
  const m = await loadModel(file, { sidecar: false, backend: 'reference' });
  t.equal(m.id, 'pytorch-lstm2@0.1.0');
  const before = readFileSync(file);
  const bad = join(dir, 'bad.json');
  writeFileSync(bad, JSON.stringify({ 'edgelstm.targets': ['pressure'] }));
  const r = await capture(() => importMain([file, '--manifest', bad, '--out', file]));
  t.equal(r.code, 1);
  t.match(r.stderr, /bad\.json: edgelstm\.targets/);
  t.same(readFileSync(file), before, 'untouched');
  // A second import merges: the new manifest overrides one key, the rest stays.
  const rename = join(dir, 'rename.json');
  writeFileSync(rename, JSON.stringify({ name: 'renamed' }));
  t.equal((await capture(() => importMain([file, '--manifest', rename, '--out', file]))).code, 0);
  const again = await loadModel(file, { sidecar: false, backend: 'reference' });
  t.equal(again.id, 'renamed@0.1.0');
  t.same(again.metadata.features, ['temperature', 'humidity']);
});
