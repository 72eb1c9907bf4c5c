// Continual learning inside the engine, against real ONNX Runtime and the real worker thread.
import t from 'tap';
import { Engine } from '../../runtime/engine/engine';
import type { Result } from '../../runtime/engine/sample';
import { loadModel, type Model } from '../../runtime/model/load-model';
import { makeTestModel } from '../helpers/models';

const perDevice = { mode: 'per-device' as const, window: 50, minStd: 1e-3 };
const global1 = { mode: 'global' as const, mean: [20], std: [4] };
const LEARN = { every: 200, window: 16, windows: 32, minWindows: 4, steps: 4, batchSize: 4, learningRate: 1e-2, holdoutEvery: 0, cpuShare: 1, nice: 0 };

function reading(device: number, i: number): number {
  return 20 + 4 * Math.sin(i / 6 + device) + ((i * 7 + device) % 5) * 0.2;
}

async function model(normalization: typeof perDevice | typeof global1 = perDevice): Promise<Model> {
  return loadModel(makeTestModel({ hidden: 8, seed: 11, normalization }).bytes);
}

t.test('the stream does not wait: no reading lost or reordered across swaps, ids only move forward', async (t) => {
  const m = await model();
  const e = new Engine(m, { warmup: 20, maxDelayMs: 1, learn: { ...LEARN, every: 300 } });
  const seen = new Map<string, Result[]>();
  let pushed = 0;
  let done = 0;
  const push = (device: number, i: number): void => {
    pushed++;
    void e.push({ device: `d${device}`, ts: i * 1000, values: [reading(device, i)] }).then((r) => {
      done++;
      const list = seen.get(r.device) ?? [];
      list.push(r);
      seen.set(r.device, list);
    });
  };
  let i = 0;
  // Keep readings flowing until a fine-tune was swapped in and used (the worker runs beside the stream).
  const used = (): boolean => [...seen.values()].some((l) => l[l.length - 1]!.model !== 'test@1.0.0');
  while ((!used() || i < 400) && i < 50000) {
    for (let d = 0; d < 4; d++) push(d, i);
    i++;
    // A producer with backpressure, as the service's ingest queue gives.
    while (e.pending > 400) await new Promise((r) => setTimeout(r, 1));
  }
  await e.flush();
  t.ok(e.learnCounters!.swapped >= 1, `swapped: ${JSON.stringify(e.learnCounters)}`);
  t.ok(e.counters.results > 1200, 'the stream went on while the worker trained');
  t.equal(done, pushed, 'every reading has its result');
  t.equal(e.counters.results, pushed);
  for (const [device, list] of seen) {
    t.same(list.map((r) => r.ts), list.map((_, k) => k * 1000), `${device}: in order, none missing`);
    const rounds = list.map((r) => Number(/\+ft(\d+)$/.exec(r.model)?.[1] ?? 0));
    t.ok(rounds.every((n, k) => k === 0 || n >= rounds[k - 1]!), `${device}: model ids never go back`);
  }
  await e.close();
  await m.release();
});

t.test('memory is bounded: windows and devices are capped, whatever the fleet size', async (t) => {
  const m = await model();
  const e = new Engine(m, { warmup: 5, maxDelayMs: 0, learn: { ...LEARN, every: 1_000_000, devices: 8, windows: 16 } });
  const feed = async (devices: number, from: number, to: number): Promise<void> => {
    const all: Promise<Result>[] = [];
    for (let i = from; i < to; i++) for (let d = 0; d < devices; d++) all.push(e.push({ device: `d${d}`, ts: i, values: [reading(d, i)] }));
    await Promise.all(all);
  };
  await feed(300, 0, 60);
  const bytes = e.learnBytes;
  // 16 windows of 16 steps (x and y, float64), 8 devices' windows in progress, two parameter copies.
  const params = 4 * 8 * (1 + 8 + 2) + 8 + 1;
  const bound = 16 * 16 * 2 * 8 + 16 * 8 + 8 * 8 * (16 * 2 + 3) + 2 * 8 * params;
  t.ok(bytes > 0 && bytes <= bound, `${bytes} <= ${bound}`);
  await feed(600, 60, 120);
  t.equal(e.learnBytes, bytes, 'twice the devices, twice the readings: not a byte more');
  await e.close();
  await m.release();
});

t.test('streaming equivalence holds between swaps: the learned model stepped one reading at a time equals one call', async (t) => {
  const m = await model(global1);
  const e = new Engine(m, { warmup: 10, maxDelayMs: 0, learn: { ...LEARN, deterministic: true } });
  let h0: Float32Array | undefined;
  let c0: Float32Array | undefined;
  e.onLearn = (ev) => {
    if (ev.outcome !== 'swapped' || h0 !== undefined) return;
    // Deterministic mode: every reading before the swap point is stepped, none after it.
    const slot = e.store.slotOf('d0');
    h0 = e.store.h.slice(slot * 8, slot * 8 + 8);
    c0 = e.store.c.slice(slot * 8, slot * 8 + 8);
  };
  const values = Array.from({ length: 399 }, (_, i) => reading(0, i));
  const results: Result[] = [];
  for (let i = 0; i < values.length; i++) results.push(await e.push({ device: 'd0', ts: i, values: [values[i]!] }));
  const learned = e.activeModel;
  t.equal(learned.id, 'test@1.0.0+ft1');
  t.not(learned.fingerprint, m.fingerprint, 'the fine-tune has weights of its own');
  t.equal(e.model, m, 'the engine keeps the model it was made with (snapshots are keyed by it)');
  const seg = results.slice(200);
  t.ok(seg.every((r) => r.model === learned.id) && results[199]!.model === 'test@1.0.0');
  const x = Float32Array.from(values.slice(200), (v) => (v - 20) / 4);
  const out = await learned.backend.run(x, h0!, c0!, x.length, 1);
  let worst = 0;
  seg.forEach((r, k) => (worst = Math.max(worst, Math.abs((r.forecast[0]! - 20) / 4 - out.y[k]!))));
  t.ok(worst <= 1e-6, `max normalized difference ${worst}`);
  await e.close();
  await m.release();
});
