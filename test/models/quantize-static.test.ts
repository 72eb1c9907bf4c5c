import t from 'tap';
import { readFileSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel } from '../../runtime/model/load-model';
import { decodeModel } from '../../runtime/onnx/decode';
import { quantizeModel } from '../../models/quantize/quantize-model';
import { main as quantizeMain } from '../../models/quantize/quantize-command';
import { quantizeActivation } from '../../runtime/backend/reference-int8';
import { extractLstmWeights } from '../../runtime/onnx/extract-weights';
import { buildLstmModel } from '../../runtime/onnx/lstm-graph';
import { encodeMetadata } from '../../runtime/model/metadata';
import { makeTestModel, maxAbsDiff, tempDir } from '../helpers/models';
import { captureOutput } from '../helpers/capture';

const perDevice = { mode: 'per-device' as const, window: 50, minStd: 1e-3 };

function inputs(seq: number, batch: number, F: number, amp: number): Float32Array {
  return Float32Array.from({ length: seq * batch * F }, (_, i) => Math.sin(i * 0.37) * amp + Math.cos(i * 0.11));
}

t.test('static mode: an unrolled int8 graph (no LSTM op), uint8 matrices, scales in the metadata', async (t) => {
  const { bytes } = makeTestModel({ hidden: 16, layers: 2, features: ['a', 'b'], seed: 2, logvar: true });
  const q = decodeModel(quantizeModel(bytes, { mode: 'static' }));
  const ops = new Set(q.graph.nodes.map((n) => n.opType));
  t.notOk(ops.has('LSTM'), 'no float LSTM op');
  t.ok(ops.has('Scan'), 'the step runs inside a Scan over the sequence');
  const body = q.graph.nodes.find((n) => n.opType === 'Scan')!.attributes.find((a) => a.name === 'body')!.g!;
  const bodyOps = body.nodes.map((n) => n.opType);
  t.equal(bodyOps.filter((o) => o === 'MatMulIntegerToFloat').length, 16, 'two integer products (input, state) per gate and layer');
  t.equal(bodyOps.filter((o) => o === 'QuantizeLinear').length, 4, 'x and each layer\'s h (twice for a layer feeding the next) quantized with fixed scales');
  t.notOk(bodyOps.includes('DynamicQuantizeLinear'), 'no per-batch activation scale');
  t.same(q.graph.initializers.filter((i) => /_Q[xh]_/.test(i.name)).map((i) => i.dataType), new Array(16).fill(2), 'uint8 matrices');
  const meta = JSON.parse(q.metadata.get('edgelstm.quantization')!) as { scheme: string; batchInvariant: boolean; scales: { x: number[]; h: number[] }; calibration: { source: string } };
  t.equal(meta.scheme, 'int8-static');
  t.equal(meta.batchInvariant, true);
  t.same(meta.scales.x.map((s) => s * 127).map((v) => +v.toFixed(4)), [10, 10], 'no data: inputs span the engine clip, ±10');
  t.same(meta.scales.h.map((s) => +(s * 127).toFixed(4)), [1, 1], 'no data: h spans ±1');
  t.match(meta.calibration.source, /bounds/);
});

t.test('static mode: native, wasm and the reference backend agree; close to fp32', async (t) => {
  const { bytes } = makeTestModel({ hidden: 16, layers: 2, features: ['a', 'b'], seed: 3, logvar: true });
  const q = quantizeModel(bytes, { mode: 'static' });
  const [seq, batch, F, H, L] = [25, 4, 2, 16, 2];
  const x = inputs(seq, batch, F, 2);
  const h = new Float32Array(L * batch * H).map((_, i) => Math.sin(i) * 0.5);
  const c = new Float32Array(L * batch * H).map((_, i) => Math.cos(i));
  const out: Record<string, Awaited<ReturnType<Awaited<ReturnType<typeof loadModel>>['backend']['run']>>> = {};
  for (const backend of ['native', 'wasm', 'reference'] as const) {
    const m = await loadModel(q, { backend });
    out[backend] = await m.backend.run(x, h, c, seq, batch);
    await m.release();
  }
  const fp = await loadModel(bytes);
  const f = await fp.backend.run(x, h, c, seq, batch);
  await fp.release();
  const n = out['native']!;
  for (const k of ['wasm', 'reference'] as const) {
    const o = out[k]!;
    const d = Math.max(maxAbsDiff(o.y, n.y), maxAbsDiff(o.hn, n.hn), maxAbsDiff(o.cn, n.cn), maxAbsDiff(o.ylogvar!, n.ylogvar!));
    t.comment(`${k} vs native over ${seq} steps: max |diff| ${d.toExponential(2)}`);
    t.ok(d <= 1e-5, `${k} agrees with native within 1e-5: ${d.toExponential(2)}`);
  }
  const toFp = maxAbsDiff(n.y, f.y);
  t.comment(`int8-static vs fp32 over ${seq} steps: max |y diff| ${toFp.toExponential(2)}`);
  t.ok(toFp > 0 && toFp < 0.05, `int8 compute is close to fp32 but not it: ${toFp.toExponential(2)}`);
});

t.test('QuantizeLinear emulation: round half to even of the float32 quotient, saturated', async (t) => {
  t.equal(quantizeActivation(0.5, 1), 0);
  t.equal(quantizeActivation(1.5, 1), 2);
  t.equal(quantizeActivation(-2.5, 1), -2);
  t.equal(quantizeActivation(-0.6, 1), -1);
  t.equal(quantizeActivation(1000, 1), 127);
  t.equal(quantizeActivation(-1000, 1), -128);
});

t.test('calibration on readings: scales from the normalized range of x and the replayed range of h', async (t) => {
  const { bytes } = makeTestModel({ hidden: 8, seed: 4, normalization: perDevice });
  const n = 400;
  const series = [0, 1].map((s) => ({ name: `s${s}`, columns: [Float64Array.from({ length: n }, (_, i) => 20 + 3 * Math.sin(i / 9 + s) + (i === 300 ? 15 : 0))] }));
  const q = decodeModel(quantizeModel(bytes, { mode: 'static', calibration: { series, source: 'two series' } }));
  const meta = JSON.parse(q.metadata.get('edgelstm.quantization')!) as { scales: { x: number[]; h: number[] }; calibration: { source: string; series: number; steps: number; xMax: number[]; hMax: number[] } };
  t.equal(meta.calibration.source, 'two series');
  t.equal(meta.calibration.series, 2);
  t.equal(meta.calibration.steps, 2 * (n - 1));
  t.ok(meta.calibration.xMax[0]! > 2 && meta.calibration.xMax[0]! <= 10, `x range from the data (the spike included, clipped at 10): ${meta.calibration.xMax[0]}`);
  t.ok(meta.calibration.hMax[0]! > 0 && meta.calibration.hMax[0]! < 1, `h range from the replay: ${meta.calibration.hMax[0]}`);
  t.ok(Math.abs(meta.scales.x[0]! * 127 - meta.calibration.xMax[0]!) < 1e-5, 'the range maps to 127');
  const m = await loadModel(encodeOf(bytes, series), { backend: 'native' });
  t.equal(m.metadata.quantization.scheme, 'int8-static');
  await m.release();
});

function encodeOf(bytes: Uint8Array, series: { name: string; columns: Float64Array[] }[]): Uint8Array {
  return quantizeModel(bytes, { mode: 'static', calibration: { series, source: 'test' } });
}

t.test('quantize --mode static --calibration: a CSV or a folder of them; bad use named', async (t) => {
  const dir = tempDir();
  const { bytes } = makeTestModel({ hidden: 8, seed: 6, normalization: perDevice });
  const input = join(dir, 'in.onnx');
  writeFileSync(input, bytes);
  const csvDir = join(dir, 'cal');
  mkdirSync(csvDir);
  const rows = (phase: number): string => ['timestamp,value', ...Array.from({ length: 200 }, (_, i) => `${1700000000000 + i * 60000},${(5 + Math.sin(i / 7 + phase)).toFixed(4)}`)].join('\n');
  writeFileSync(join(csvDir, 'a.csv'), rows(0));
  writeFileSync(join(csvDir, 'b.csv'), rows(1));
  const out = join(dir, 'out.onnx');
  const one = await captureOutput(() => quantizeMain([input, out, '--mode', 'static', '--calibration', join(csvDir, 'a.csv')]));
  t.equal(one.value, 0, one.stderr);
  t.match(one.stderr, /int8-static/);
  t.match(one.stderr, /activation scales .*"series":1/);
  const folder = await captureOutput(() => quantizeMain([input, out, '--mode', 'static', '--calibration', csvDir]));
  t.equal(folder.value, 0, folder.stderr);
  t.match(folder.stderr, /"series":2/);
  const m = await loadModel(readFileSync(out), { backend: 'reference' });
  t.equal(m.metadata.quantization.scheme, 'int8-static');
  await m.release();
  const empty = join(dir, 'empty');
  mkdirSync(empty);
  const other = join(dir, 'other.onnx');
  const cases: Array<[string[], RegExp]> = [
    [[input, other, '--calibration', csvDir], /--calibration.*--mode static/],
    [[input, other, '--mode', 'static', '--calibration', empty], /--calibration.*no|none/],
    [[input, other, '--mode', 'static', '--calibration', join(dir, 'nope.csv')], /--calibration.*nope\.csv/],
  ];
  for (const [argv, re] of cases) {
    const r = await captureOutput(() => quantizeMain(argv));
    t.not(r.value, 0, argv.join(' '));
    t.match(r.stderr, re, argv.join(' '));
    t.notOk(existsSync(other), 'no output written');
  }
  // A static model is quantized already: quantizing it again is refused, naming the key.
  const again = await captureOutput(() => quantizeMain([out, other, '--mode', 'static']));
  t.equal(again.value, 1);
  t.match(again.stderr, /edgelstm\.quantization/);
});

t.test('an int8-static model reads back as its dequantized float weights (export, fine-tuning)', async (t) => {
  const { bytes, weights } = makeTestModel({ hidden: 8, layers: 2, features: ['a', 'b'], seed: 9 });
  const q = decodeModel(quantizeModel(bytes, { mode: 'static' }));
  const back = extractLstmWeights(q, { x: 'x', h0: 'h0', c0: 'c0', y: 'y', hn: 'hn', cn: 'cn' }, 'q.onnx');
  t.equal(back.layers.length, 2);
  for (let l = 0; l < 2; l++) {
    const w = weights.layers[l]!;
    const b = back.layers[l]!;
    const d = Math.max(maxAbsDiff(b.W, w.W), maxAbsDiff(b.R, w.R));
    const bias = maxAbsDiff(Float32Array.from(b.Wb, (v, j) => v + b.Rb[j]!), Float32Array.from(w.Wb, (v, j) => v + w.Rb[j]!));
    t.ok(d > 0 && d < 0.05, `layer ${l}: weights within int8 rounding: ${d.toExponential(2)}`);
    t.ok(bias < 1e-6, `layer ${l}: bias sum kept: ${bias}`);
  }
  t.same(back.head.W, weights.head.W, 'the head stays float32');
});

const exportsDir = join(__dirname, '..', 'fixtures', 'exports');

t.test('--mode static refuses, by attribute and with what was found, an LSTM it would compute wrongly; nothing is written', async (t) => {
  // The int8-static graph computes sigmoid/tanh/tanh with no peepholes, no input_forget and no clip.
  const cases: Array<[string, RegExp[]]> = [
    ['lstm-peephole', [/LSTM layer 0 P/, /peephole weights P \[18\]/]],
    ['lstm-input-forget', [/LSTM layer 0 input_forget/, /input_forget=1/]],
    ['lstm-clip', [/LSTM layer 0 clip/, /clip=\d/]],
    ['lstm-activations', [/LSTM layer 0 activations/, /activations=\[HardSigmoid\(0\.3\d*, 0\.4\d*\), ScaledTanh\(0\.8\d*, 1\.2\d*\), Softsign\]/]],
    ['lstm-peephole-input-forget', [/LSTM layer 0 P, LSTM layer 0 input_forget/, /peephole weights P/, /input_forget=1/]],
  ];
  const dir = tempDir();
  for (const [name, res] of cases) {
    const src = join(dir, `${name}.onnx`);
    writeFileSync(src, readFileSync(join(exportsDir, `${name}.onnx`)));
    writeFileSync(join(dir, `${name}.json`), readFileSync(join(exportsDir, `${name}.json`)));
    const sidecar = JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')) as Record<string, unknown>;
    t.throws(() => quantizeModel(readFileSync(src), { mode: 'static', sidecar, file: src }), /--mode static does not implement/, `${name}: quantizeModel refuses`);
    const out = join(dir, `${name}-static.onnx`);
    const r = await captureOutput(() => quantizeMain([src, out, '--mode', 'static']));
    t.equal(r.value, 1, `${name}: exit 1`);
    t.match(r.stderr, /--mode static does not implement/, name);
    for (const re of res) t.match(r.stderr, re, `${name}: ${re}`);
    t.match(r.stderr, /--mode weight/, `${name}: names the mode that keeps it`);
    t.notOk(existsSync(out), `${name}: no file written`);
    // The default mode keeps them, so it still quantizes the same file.
    const w = await captureOutput(() => quantizeMain([src, join(dir, `${name}-int8.onnx`)]));
    t.equal(w.value, 0, `${name}: --mode weight still quantizes it (${w.stderr})`);
  }
});

t.test('--mode static takes the attributes that compute the plain LSTM: an all-zero P, the default activations written out', async (t) => {
  const { weights, metadata } = makeTestModel({ hidden: 8, seed: 3 });
  const spelled = { ...weights, layers: weights.layers.map((l) => ({ ...l, P: new Float32Array(3 * 8), attributes: { activations: [{ name: 'Sigmoid', alpha: 0, beta: 0 }, { name: 'Tanh', alpha: 0, beta: 0 }, { name: 'Tanh', alpha: 0, beta: 0 }] } })) };
  const bytes = buildLstmModel(spelled, { metadata: encodeMetadata(metadata) });
  t.ok(decodeModel(bytes).graph.nodes.find((n) => n.opType === 'LSTM')!.attributes.some((a) => a.name === 'activations'), 'the graph spells the activations out');
  const q = quantizeModel(bytes, { mode: 'static' });
  t.equal(JSON.parse(decodeModel(q).metadata.get('edgelstm.quantization')!).scheme, 'int8-static');
});

t.test('--no-per-channel with --mode static is refused, not ignored (the form is per channel by construction)', async (t) => {
  const dir = tempDir();
  const input = join(dir, 'in.onnx');
  writeFileSync(input, makeTestModel({ hidden: 8, seed: 4 }).bytes);
  const out = join(dir, 'out.onnx');
  const r = await captureOutput(() => quantizeMain([input, out, '--mode', 'static', '--no-per-channel']));
  t.equal(r.value, 2, 'bad usage');
  t.match(r.stderr, /--per-channel: invalid value/);
  t.match(r.stderr, /found --no-per-channel/);
  t.match(r.stderr, /one scale per output channel by construction/);
  t.notOk(existsSync(out), 'no file written');
  t.throws(() => quantizeModel(makeTestModel({ hidden: 8, seed: 4 }).bytes, { mode: 'static', perChannel: false }), /perChannel: expected true with mode "static"/);
  const w = await captureOutput(() => quantizeMain([input, out, '--no-per-channel']));
  t.equal(w.value, 0, '--mode weight still takes it');
  t.notMatch(w.stderr, /per channel/);
});

t.test('the size message says "smaller than" only when the output is smaller', async (t) => {
  const dir = tempDir();
  const tiny = join(dir, 'tiny.onnx');
  writeFileSync(tiny, makeTestModel({ hidden: 4, seed: 5 }).bytes);
  const big = join(dir, 'big.onnx');
  writeFileSync(big, makeTestModel({ hidden: 64, seed: 5 }).bytes);
  const grown = await captureOutput(() => quantizeMain([tiny, join(dir, 'tiny-static.onnx'), '--mode', 'static']));
  t.equal(grown.value, 0, grown.stderr);
  const [inB, outB] = [readFileSync(tiny).length, readFileSync(join(dir, 'tiny-static.onnx')).length];
  t.ok(outB > inB, `a tiny model's static form is larger (${outB} > ${inB} bytes)`);
  t.match(grown.stderr, new RegExp(`${(outB / inB).toFixed(2)}x the size of ${tiny.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\(${inB} bytes\\)`));
  t.notMatch(grown.stderr, /smaller/);
  const shrunk = await captureOutput(() => quantizeMain([big, join(dir, 'big-int8.onnx')]));
  const [bigIn, bigOut] = [readFileSync(big).length, readFileSync(join(dir, 'big-int8.onnx')).length];
  t.ok(bigOut < bigIn);
  t.match(shrunk.stderr, new RegExp(`${(bigIn / bigOut).toFixed(2)}x smaller than`));
});
