// A GRU end to end: graph, backends, engine state without a cell slot, snapshots, int8, export, training.
import t from 'tap';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Engine } from '../../runtime/engine/engine';
import type { Result } from '../../runtime/engine/sample';
import { loadModel } from '../../runtime/model/load-model';
import { encodeMetadata, parseMetadata } from '../../runtime/model/metadata';
import { randomWeights, type LstmLayerWeights } from '../../runtime/contract/weights';
import { decodeModel, decodeOnnxFile } from '../../runtime/onnx/decode';
import { extractLstmWeights } from '../../runtime/onnx/extract-weights';
import { buildLstmModel } from '../../runtime/onnx/lstm-graph';
import { quantizeModel } from '../../models/quantize/quantize-model';
import { exportModelFile } from '../../models/toolchain/export-file';
import { main as trainMain } from '../../models/toolchain/train-command';
import { captureOutput } from '../helpers/capture';
import { maxAbsDiff, makeTestModel, tempDir, testMetadata } from '../helpers/models';

const norm = { mode: 'global' as const, mean: [10, -2], std: [2, 0.5] };

function gruBytes(hidden = 8, layers = 2, seed = 9): Uint8Array {
  const w = randomWeights(2, hidden, 2, layers, seed, false, 'gru');
  const lbr = { ...w, layers: w.layers.map((l) => ({ ...l, attributes: { linearBeforeReset: true } })) };
  const m = testMetadata({ features: ['a', 'b'], normalization: norm }, lbr);
  return buildLstmModel(lbr, { metadata: encodeMetadata({ ...m, io: { x: 'x', h0: 'h0', y: 'y', hn: 'hn' } }) });
}

function series(device: number, n: number): number[][] {
  return Array.from({ length: n }, (_, i) => [10 + 3 * Math.sin(i / 5 + device), -2 + Math.cos(i / 7 + device)]);
}

t.test('a built GRU graph has GRU ops and no cell state; every backend agrees within 1e-5', async (t) => {
  const bytes = gruBytes();
  const g = decodeModel(bytes).graph;
  t.same(g.inputs.map((i) => i.name), ['x', 'h0']);
  t.same(g.outputs.map((o) => o.name), ['y', 'hn']);
  t.equal(g.nodes.filter((n) => n.opType === 'GRU').length, 2);
  const x = Float32Array.from({ length: 6 * 3 * 2 }, (_, i) => Math.sin(i));
  const h = Float32Array.from({ length: 2 * 3 * 8 }, (_, i) => 0.3 * Math.cos(i));
  const outs = [];
  for (const backend of ['native', 'wasm', 'reference'] as const) {
    const m = await loadModel(bytes, { backend });
    t.equal(m.cell, 'gru');
    outs.push(await m.backend.run(x, h, new Float32Array(0), 6, 3));
    await m.release();
  }
  for (const o of outs.slice(1)) {
    t.ok(maxAbsDiff(o.y, outs[0]!.y) < 1e-5);
    t.ok(maxAbsDiff(o.hn, outs[0]!.hn) < 1e-5);
    t.equal(o.cn.length, 0);
  }
});

t.test('engine: a GRU device holds h only, fewer bytes than an LSTM of the same size; snapshots round-trip', async (t) => {
  const gru = await loadModel(gruBytes(16, 2));
  const lstm = await loadModel(makeTestModel({ features: ['a', 'b'], hidden: 16, layers: 2, normalization: norm }).bytes);
  const eg = new Engine(gru, { maxDelayMs: 0 });
  const el = new Engine(lstm, { maxDelayMs: 0 });
  t.equal(eg.store.c.length, 0, 'no c slot at all');
  t.equal(eg.store.bytesPerDevice(), el.store.bytesPerDevice() - 2 * 16 * 4, 'L*H floats less per device');
  const first: Result[] = [];
  for (let i = 0; i < 10; i++) first.push(await eg.push({ device: 'd', ts: i, values: series(0, 10)[i]! }));
  const dir = tempDir();
  const snap = join(dir, 'gru.state');
  await eg.saveState(snap);
  const again = new Engine(gru, { maxDelayMs: 0 });
  t.equal(await again.loadState(snap), 1);
  const next = series(0, 11)[10]!;
  const a = await eg.push({ device: 'd', ts: 10, values: next });
  const b = await again.push({ device: 'd', ts: 10, values: next });
  t.same(b.forecast, a.forecast, 'restored state continues bit-identically');
  // An LSTM engine refuses the GRU's snapshot (another model, another layout).
  await t.rejects(el.loadState(snap), { code: 'E_SNAPSHOT' });
  for (const e of [eg, el, again]) await e.close();
  await gru.release();
  await lstm.release();
});

t.test('int8 GRU: batch-invariant (bit-identical), close to float, reference agrees with native', async (t) => {
  const float = gruBytes(16, 1, 4);
  const q = quantizeModel(float);
  t.same(JSON.parse(decodeModel(q).metadata.get('edgelstm.quantization')!), { scheme: 'int8-weight', perChannel: true });
  t.ok(decodeModel(q).graph.initializers.some((i) => i.dataType === 3), 'int8 weights');
  const mq = await loadModel(q);
  const mf = await loadModel(float);
  const alone = new Engine(mq, { maxDelayMs: 0 });
  const crowded = new Engine(mq, { maxDelayMs: 5 });
  const ref = new Engine(await loadModel(q, { backend: 'reference' }), { maxDelayMs: 0 });
  const fl = new Engine(mf, { maxDelayMs: 0 });
  let worstRef = 0;
  let worstFloat = 0;
  for (let i = 0; i < 12; i++) {
    const v = series(3, 12)[i]!;
    const a = await alone.push({ device: 'target', ts: i, values: v });
    const mates = Array.from({ length: 50 }, (_, d) => crowded.push({ device: `m${d}`, ts: i, values: series(d, 1)[0]! }));
    const c = crowded.push({ device: 'target', ts: i, values: v });
    await Promise.all(mates);
    t.same((await c).forecast, a.forecast, `step ${i}: bit-identical with 50 batch-mates`);
    const r = await ref.push({ device: 'target', ts: i, values: v });
    const f = await fl.push({ device: 'target', ts: i, values: v });
    worstRef = Math.max(worstRef, maxAbsDiff(r.forecast, a.forecast));
    worstFloat = Math.max(worstFloat, maxAbsDiff(f.forecast, a.forecast));
  }
  t.ok(worstRef < 1e-4, `reference vs native on the int8 model: ${worstRef.toExponential(2)}`);
  t.ok(worstFloat < 5e-3, `int8 vs float: ${worstFloat.toExponential(2)} (measured 1.24e-3)`);
  t.throws(() => quantizeModel(float, { mode: 'dynamic' }), /no GRU form/);
  t.throws(() => quantizeModel(float, { mode: 'static' }), /no GRU form/);
  for (const e of [alone, crowded, ref, fl]) await e.close();
});

const fixtures = join(__dirname, '..', 'fixtures', 'exports');

/**
 * What dropping one attribute does to y on a fixture's own inputs (float, reference backend): a tolerance
 * for "quantize kept it" means something only if it is well below these.
 */
async function droppedAttributeDiffs(bytes: Uint8Array, sidecar: Record<string, unknown>, name: string, e: { seq: number; batch: number; run: { x: number[]; h0: number[]; c0?: number[]; y: number[] } }): Promise<Array<[string, number]>> {
  const onnx = decodeOnnxFile(bytes, name);
  const md = parseMetadata(onnx.metadata, sidecar, name);
  const w = extractLstmWeights(onnx, md.io, name);
  const drops: Array<[string, (l: LstmLayerWeights) => LstmLayerWeights | undefined]> = [
    ['P', ({ P, ...l }) => (P ? l : undefined)],
    ['clip', (l) => (l.attributes?.clip !== undefined ? { ...l, attributes: { ...l.attributes, clip: undefined } } : undefined)],
    ['input_forget', (l) => (l.attributes?.inputForget ? { ...l, attributes: { ...l.attributes, inputForget: undefined } } : undefined)],
    ['activations', (l) => (l.attributes?.activations ? { ...l, attributes: { ...l.attributes, activations: undefined } } : undefined)],
    ['linear_before_reset', (l) => (l.attributes?.linearBeforeReset ? { ...l, attributes: { ...l.attributes, linearBeforeReset: undefined } } : undefined)],
  ];
  const out: Array<[string, number]> = [];
  for (const [attr, drop] of drops) {
    const layers = w.layers.map((l) => drop(l));
    if (layers.every((l) => l === undefined)) continue;
    const stripped = buildLstmModel({ ...w, layers: layers.map((l, i) => l ?? w.layers[i]!) }, { names: md.io, metadata: encodeMetadata(md) });
    const m = await loadModel(stripped, { backend: 'reference' });
    const r = await m.backend.run(Float32Array.from(e.run.x), Float32Array.from(e.run.h0), e.run.c0 ? Float32Array.from(e.run.c0) : new Float32Array(0), e.seq, e.batch);
    await m.release();
    out.push([attr, maxAbsDiff(r.y, e.run.y)]);
  }
  return out;
}

// Measured worst |y - truth| of the int8-weight file on these fixtures: 1.34e-3 (gru-lbr0); the others 2.0e-4 to 6.3e-4.
// Dropping an attribute moves y by 7.3e-3 (P of lstm-peephole) to 2.1e-1, so 4e-3 keeps a 3x margin and still catches a drop.
const QUANTIZE_TOLERANCE = 4e-3;

t.test('export and quantize keep what the graph computes: a PyTorch GRU, peepholes, input_forget, clip, activations', async (t) => {
  for (const name of ['gru', 'gru-lbr0', 'lstm-peephole', 'lstm-input-forget', 'lstm-peephole-input-forget', 'lstm-activations', 'lstm-clip', 'gru-activations-clip']) {
    const dir = tempDir();
    const src = join(dir, `${name}.onnx`);
    writeFileSync(src, readFileSync(join(fixtures, `${name}.onnx`)));
    writeFileSync(join(dir, `${name}.json`), readFileSync(join(fixtures, `${name}.json`)));
    const e = JSON.parse(readFileSync(join(fixtures, `${name}.expected.json`), 'utf8')) as { seq: number; batch: number; run: { x: number[]; h0: number[]; c0?: number[]; y: number[] } };
    const { bytes } = await exportModelFile(src, 'onnx');
    const sidecar = JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')) as Record<string, unknown>;
    const quantized = quantizeModel(readFileSync(src), { sidecar, file: src });
    const c0 = e.run.c0 ? Float32Array.from(e.run.c0) : new Float32Array(0);
    for (const [what, b, tol] of [['export', bytes, 1e-5], ['quantize', quantized, QUANTIZE_TOLERANCE]] as const) {
      for (const backend of ['native', 'reference'] as const) {
        const m = await loadModel(b, { backend });
        const out = await m.backend.run(Float32Array.from(e.run.x), Float32Array.from(e.run.h0), c0, e.seq, e.batch);
        const d = maxAbsDiff(out.y, e.run.y);
        t.ok(d < tol, `${name} ${what} on ${backend}: ${d.toExponential(2)} < ${tol}`);
        await m.release();
      }
    }
    // The tolerance is tight enough to see each attribute that changes y on these inputs go missing.
    for (const [attr, d] of await droppedAttributeDiffs(readFileSync(src), sidecar, name, e)) {
      if (d < 1e-6) t.comment(`${name}: dropping ${attr} changes nothing on these inputs (${d.toExponential(2)}): it never binds here`);
      else t.ok(d > 1.5 * QUANTIZE_TOLERANCE, `${name}: dropping ${attr} moves y by ${d.toExponential(2)}, beyond the quantize tolerance`);
    }
  }
});

t.test('edgelstm train --cell gru writes a GRU model that loads and streams', async (t) => {
  const dir = tempDir();
  const lines = ['timestamp,load'];
  for (let i = 0; i < 300; i++) lines.push(`${1700000000000 + i * 60000},${(50 + 10 * Math.sin((2 * Math.PI * i) / 20)).toFixed(4)}`);
  writeFileSync(join(dir, 'a.csv'), `${lines.join('\n')}\n`);
  const out = join(dir, 'g.onnx');
  const { value: code, stderr } = await captureOutput(() => trainMain(['--input', join(dir, 'a.csv'), '--features', 'load', '--cell', 'gru', '--hidden', '6', '--window', '16', '--epochs', '3', '--out', out]));
  t.equal(code, 0, stderr);
  t.match(stderr, /GRU H=6/);
  t.ok(existsSync(out));
  const m = await loadModel(out);
  t.equal(m.cell, 'gru');
  t.same(m.metadata.io, { x: 'x', h0: 'h0', y: 'y', hn: 'hn' });
  const engine = new Engine(m, { maxDelayMs: 0 });
  const r = await engine.push({ device: 'd', ts: 0, values: [50] });
  t.ok(Number.isFinite(r.forecast[0]));
  await engine.close();
  const bad = await captureOutput(() => trainMain(['--input', join(dir, 'a.csv'), '--cell', 'rnn', '--out', out]));
  t.equal(bad.value, 2);
  t.match(bad.stderr, /cell/);
});
