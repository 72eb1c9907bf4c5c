// DESIGN.md section 3 properties for the int8-static form (edgelstm quantize --mode static), through the Engine.
import t from 'tap';
import { Engine } from '../../runtime/engine/engine';
import type { Result } from '../../runtime/engine/sample';
import { loadModel, type Model } from '../../runtime/model/load-model';
import { quantizeModel } from '../../models/quantize/quantize-model';
import { makeTestModel } from '../helpers/models';

const global3 = { mode: 'global' as const, mean: [10, -2, 100], std: [2, 0.5, 30] };

function series(device: number, n: number): number[][] {
  return Array.from({ length: n }, (_, i) => [10 + 3 * Math.sin(i / 5 + device), -2 + Math.cos(i / 7 + device), 100 + 20 * Math.sin(i / 11 + device * 2)]);
}

const staticBytes = quantizeModel(makeTestModel({ features: ['a', 'b', 'c'], targets: ['a', 'c'], hidden: 16, layers: 2, seed: 5, normalization: global3 }).bytes, { mode: 'static' });

async function model(backend: 'native' | 'wasm' | 'reference'): Promise<Model> {
  return loadModel(staticBytes, { backend });
}

t.test('int8-static: a device\'s outputs do not depend on its batch-mates (bit-identical), every backend', async (t) => {
  for (const backend of ['native', 'wasm', 'reference'] as const) {
    const m = await model(backend);
    t.equal(m.metadata.quantization.scheme, 'int8-static');
    const alone = new Engine(m, { maxDelayMs: 0 });
    const crowded = new Engine(m, { maxDelayMs: 5 });
    const target = series(7, 10);
    const mates = backend === 'reference' ? 20 : 300;
    for (let i = 0; i < target.length; i++) {
      const a = await alone.push({ device: 'target', ts: i, values: target[i]! });
      const pending: Promise<Result>[] = [];
      // Batch-mates far outside the target's range too: with one activation scale per batch
      // (DynamicQuantizeLSTM) they would coarsen the target's quantization.
      for (let d = 0; d < mates; d++) pending.push(crowded.push({ device: `mate${d}`, ts: i, values: series(d, 1)[0]!.map((v) => v * (1 + d / 5) * (d % 7 === 0 ? 50 : 1)) }));
      const c = crowded.push({ device: 'target', ts: i, values: target[i]! });
      await Promise.all(pending);
      const r = await c;
      t.same(r.forecast, a.forecast, `${backend} step ${i}: forecast bit-identical`);
      t.equal(r.score, a.score, `${backend} step ${i}: score bit-identical`);
    }
    t.ok(crowded.counters.batches <= target.length * 2, `${backend}: the target shared batches with its mates (${crowded.counters.batches} batches)`);
    await m.release();
  }
});

t.test('int8-static: one sample at a time equals one call over the sequence (bit-identical)', async (t) => {
  for (const backend of ['native', 'reference'] as const) {
    const m = await model(backend);
    const engine = new Engine(m, { maxDelayMs: 0 });
    const data = series(3, 30);
    const streamed: number[][] = [];
    for (let i = 0; i < data.length; i++) streamed.push((await engine.push({ device: 'd', ts: i, values: data[i]! })).forecast);
    const { F, H, L, T } = m.dims;
    const x = new Float32Array(data.length * F);
    data.forEach((v, i) => v.forEach((val, f) => (x[i * F + f] = (val - global3.mean[f]!) / global3.std[f]!)));
    const out = await m.backend.run(x, new Float32Array(L * H), new Float32Array(L * H), data.length, 1);
    let worst = 0;
    for (let i = 0; i < data.length; i++) {
      for (let k = 0; k < T; k++) {
        const f = m.targetIndex[k]!;
        const whole = global3.mean[f]! + out.y[i * T + k]! * global3.std[f]!;
        worst = Math.max(worst, Math.abs(whole - streamed[i]![k]!) / global3.std[f]!);
      }
    }
    t.ok(worst <= 1e-6, `${backend}: worst normalized difference ${worst}`);
    await m.release();
  }
});
