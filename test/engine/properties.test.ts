// The four properties of DESIGN.md section 3, each against real ONNX Runtime.
import t from 'tap';
import { Engine } from '../../runtime/engine/engine';
import type { Result } from '../../runtime/engine/sample';
import { loadModel, type Model } from '../../runtime/model/load-model';
import { makeTestModel } from '../helpers/models';

const global3 = { mode: 'global' as const, mean: [10, -2, 100], std: [2, 0.5, 30] };

function series(device: number, n: number): number[][] {
  return Array.from({ length: n }, (_, i) => [10 + 3 * Math.sin(i / 5 + device), -2 + Math.cos(i / 7 + device), 100 + 20 * Math.sin(i / 11 + device * 2)]);
}

async function model(backend: 'native' | 'wasm' | 'reference' = 'native', layers = 2): Promise<Model> {
  const { bytes } = makeTestModel({ features: ['a', 'b', 'c'], targets: ['a', 'c'], hidden: 16, layers, seed: 5, normalization: global3 });
  return loadModel(bytes, { backend });
}

t.test('per-device order: samples are stepped in arrival order, one per device per batch', async (t) => {
  const m = await model();
  const engine = new Engine(m, { maxDelayMs: 50 });
  const sizes: number[] = [];
  engine.onBatch = (b) => sizes.push(b.size);
  const a = series(0, 5);
  const promises: Promise<Result>[] = [];
  // Five samples of "a" and one of "b" arrive in the same tick.
  a.forEach((v, i) => promises.push(engine.push({ device: 'a', ts: i, values: v })));
  promises.push(engine.push({ device: 'b', ts: 0, values: series(1, 1)[0]! }));
  const results = await Promise.all(promises);
  t.same(sizes, [2, 1, 1, 1, 1], 'a device appears at most once per batch');
  t.same(results.slice(0, 5).map((r) => r.ts), [0, 1, 2, 3, 4]);

  // The same samples pushed one at a time (each in its own batch) give the same results.
  const serial = new Engine(m, { maxDelayMs: 0 });
  for (let i = 0; i < 5; i++) {
    const r = await serial.push({ device: 'a', ts: i, values: a[i]! });
    t.same(r.forecast, results[i]!.forecast, `step ${i}`);
  }
  await m.release();
});

t.test('streaming equivalence: one sample at a time equals one call over the sequence (within 1e-6)', async (t) => {
  for (const backend of ['native', 'reference'] as const) {
    const m = await model(backend);
    const engine = new Engine(m, { maxDelayMs: 0 });
    const data = series(3, 40);
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

t.test('batch invariance: a device\'s outputs do not depend on its batch-mates (bit-identical)', async (t) => {
  for (const backend of ['native', 'wasm'] as const) {
    const m = await model(backend);
    const alone = new Engine(m, { maxDelayMs: 0 });
    const crowded = new Engine(m, { maxDelayMs: 5 });
    const target = series(7, 12);
    for (let i = 0; i < target.length; i++) {
      const a = await alone.push({ device: 'target', ts: i, values: target[i]! });
      const mates: Promise<Result>[] = [];
      for (let d = 0; d < 200; d++) mates.push(crowded.push({ device: `mate${d}`, ts: i, values: series(d, 1)[0]!.map((v) => v * (1 + d / 10)) }));
      const c = crowded.push({ device: 'target', ts: i, values: target[i]! });
      await Promise.all(mates);
      const r = await c;
      t.same(r.forecast, a.forecast, `${backend} step ${i}: forecast bit-identical`);
      t.equal(r.score, a.score, `${backend} step ${i}: score bit-identical`);
    }
    await m.release();
  }
});

t.test('arrival order within a batch changes no device\'s results (the engine may step a batch in slot order)', async (t) => {
  const m = await model('native');
  const inOrder = new Engine(m, { maxDelayMs: 5 });
  const shuffled = new Engine(m, { maxDelayMs: 5 });
  const D = 150;
  const perm = (round: number): number[] => Array.from({ length: D }, (_, i) => i).sort((a, b) => ((a * 7919 + round * 104729) % 1009) - ((b * 7919 + round * 104729) % 1009));
  for (let step = 0; step < 6; step++) {
    const value = (d: number): number[] => series(d, step + 1)[step]!;
    const a = await Promise.all(Array.from({ length: D }, (_, d) => inOrder.push({ device: `d${d}`, ts: step, values: value(d) })));
    const order = perm(step);
    const b: Result[] = new Array<Result>(D);
    await Promise.all(order.map(async (d) => (b[d] = await shuffled.push({ device: `d${d}`, ts: step, values: value(d) }))));
    let same = 0;
    for (let d = 0; d < D; d++) if (JSON.stringify(a[d]) === JSON.stringify(b[d])) same++;
    t.equal(same, D, `step ${step}: every device's result bit-identical`);
  }
  t.equal(shuffled.counters.batches, 6, 'one batch per step, so each batch was reordered');
  await m.release();
});

t.test('isolation: bad samples, a reset and an eviction leave other devices untouched', async (t) => {
  const m = await model('native', 1);
  const engine = new Engine(m, { maxDelayMs: 0, maxDevices: 3 });
  for (const d of ['a', 'b', 'c']) for (const v of series(d.charCodeAt(0), 5)) await engine.push({ device: d, values: v });
  const snapshot = (): number[] => [...engine.store.h, ...engine.store.c, ...engine.store.aux];
  const before = snapshot();
  const bad: unknown[] = [
    { device: 'a', values: [NaN, 1, 2] },
    { device: 'a', values: [Infinity, 1, 2] },
    { device: 'b', values: ['1', 2, 3] },
    { device: 'b', values: [1, 2] },
    { values: [1, 2, 3] },
    { device: '', values: [1, 2, 3] },
    { device: 'c', ts: NaN, values: [1, 2, 3] },
    null,
  ];
  const codes: string[] = [];
  for (const s of bad) await engine.push(s as never).then(() => t.fail('accepted a bad sample'), (e: { code: string }) => codes.push(e.code));
  t.same(codes, ['E_BAD_VALUE', 'E_BAD_VALUE', 'E_BAD_VALUE', 'E_BAD_LENGTH', 'E_BAD_DEVICE', 'E_BAD_DEVICE', 'E_BAD_TIMESTAMP', 'E_BAD_VALUE']);
  t.equal(engine.counters.rejected, 8);
  t.same(snapshot(), before, 'no state changed');

  const slotB = engine.store.slotOf('b');
  const W = engine.store.layout.stateWidth;
  const bState = Array.from(engine.store.h.subarray(slotB * W, (slotB + 1) * W));
  await engine.reset('a');
  t.same(Array.from(engine.store.h.subarray(slotB * W, (slotB + 1) * W)), bState, 'reset of a leaves b');
  await engine.push({ device: 'd', values: [1, 2, 3] }); // evicts the least recently used: a
  t.equal(engine.store.slotOf('a'), -1);
  t.same(Array.from(engine.store.h.subarray(engine.store.slotOf('b') * W, (engine.store.slotOf('b') + 1) * W)), bState, 'eviction of a leaves b');
  t.equal(engine.counters.evicted, 1);
  await m.release();
});
