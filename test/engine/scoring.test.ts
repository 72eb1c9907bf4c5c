import t from 'tap';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { Engine } from '../../runtime/engine/engine';
import { resolveEngineOptions } from '../../runtime/engine/options';
import { logLikelihood, normalTail, updateLikelihood, DEFAULT_LIKELIHOOD, likelihoodWidth } from '../../runtime/engine/likelihood';
import type { Result } from '../../runtime/engine/sample';
import { loadModel, type Model } from '../../runtime/model/load-model';
import { makeTestModel, tempDir } from '../helpers/models';

const perDevice = { mode: 'per-device' as const, window: 200, minStd: 1e-3 };

async function model(o: { logvar?: boolean; seed?: number } = {}): Promise<Model> {
  return loadModel(makeTestModel({ hidden: 16, seed: o.seed ?? 3, logvar: o.logvar ?? false, normalization: perDevice }).bytes);
}

function wave(i: number): number {
  return 50 + 10 * Math.sin((2 * Math.PI * i) / 24) + 0.3 * Math.sin(i * 1.7);
}

async function run(engine: Engine, device: string, values: number[], t0 = 0): Promise<Result[]> {
  const out: Result[] = [];
  for (let i = 0; i < values.length; i++) out.push(await engine.push({ device, ts: t0 + i * 1000, values: [values[i]!] }));
  return out;
}

t.test('score then step: each sample is compared with the forecast made before it', async (t) => {
  const m = await model();
  const engine = new Engine(m, { maxDelayMs: 0 });
  const rs = await run(engine, 'd', Array.from({ length: 20 }, (_, i) => wave(i)));
  t.equal(rs[0]!.expected, null, 'no forecast before the first sample');
  t.equal(rs[0]!.score, null);
  for (let i = 1; i < rs.length; i++) {
    t.same(rs[i]!.expected, [rs[i - 1]!.forecast[0]], `sample ${i} is scored against forecast ${i - 1}`);
    t.ok(Math.abs(rs[i]!.error![0]! - (rs[i]!.values[0]! - rs[i]!.expected![0]!)) < 1e-12);
  }
  t.equal(rs[5]!.model, 'test@1.0.0');
  await m.release();
});

t.test('a spike after warm-up is an anomaly; nothing alarms during warm-up', async (t) => {
  const m = await model();
  const engine = new Engine(m, { maxDelayMs: 0, warmup: 100 });
  const values = Array.from({ length: 400 }, (_, i) => wave(i));
  values[10] = 500; // inside warm-up
  values[350] = 200; // after
  const rs = await run(engine, 'd', values);
  t.equal(rs.slice(0, 100).filter((r) => r.anomaly).length, 0, 'no alarm in warm-up');
  t.ok(rs.slice(0, 100).every((r) => r.warmup));
  t.notOk(rs[150]!.warmup);
  t.equal(rs[350]!.anomaly, true, `spike flagged (likelihood ${rs[350]!.likelihood})`);
  const falseAlarms = rs.slice(101, 350).filter((r) => r.anomaly).length;
  t.ok(falseAlarms <= 2, `few false alarms on a clean wave: ${falseAlarms}`);
  t.ok(rs[350]!.score! > 5 * rs[349]!.score!, 'the raw score jumps at the spike');
  await m.release();
});

t.test('a variance head gives Gaussian negative log-likelihood scores', async (t) => {
  const m = await model({ logvar: true });
  t.equal(m.hasLogvar, true);
  const engine = new Engine(m, { maxDelayMs: 0 });
  const rs = await run(engine, 'd', Array.from({ length: 5 }, (_, i) => wave(i)));
  const r = rs[4]!;
  t.ok(Number.isFinite(r.score!));
  await m.release();
});

t.test('varianceWeight: with a variance head, errors are measured in predicted standard deviations', async (t) => {
  const values = Array.from({ length: 400 }, (_, i) => wave(i));
  values[300] = 80;
  const likelihoods = async (m: Model, varianceWeight: number): Promise<number[]> => {
    const rs = await run(new Engine(m, { maxDelayMs: 0, warmup: 100, scoring: { varianceWeight } }), 'd', values);
    return rs.map((r) => r.likelihood ?? NaN);
  };
  const withHead = await model({ logvar: true });
  const off = await likelihoods(withHead, 0);
  const on = await likelihoods(withHead, 1);
  t.notSame(on, off, 'the predicted variance changes the likelihoods');
  t.same(on.slice(0, 2), off.slice(0, 2), 'nothing to divide before the first forecast');
  const plain = await model();
  t.same(await likelihoods(plain, 1), await likelihoods(plain, 0), 'no effect without a variance head');
  t.throws(() => resolveEngineOptions({ scoring: { varianceWeight: 2 } }), /varianceWeight/);
  await withHead.release();
  await plain.release();
});

t.test('a forecast horizon rolls out on a copy: the live state does not move', async (t) => {
  const m = await model();
  const one = new Engine(m, { maxDelayMs: 0, horizon: 1 });
  const five = new Engine(m, { maxDelayMs: 0, horizon: 5 });
  const values = Array.from({ length: 30 }, (_, i) => wave(i));
  const a = await run(one, 'd', values);
  const b = await run(five, 'd', values);
  for (let i = 0; i < values.length; i++) {
    t.equal(b[i]!.forecast.length, 5);
    t.equal(b[i]!.forecast[0], a[i]!.forecast[0], `step ${i}: the first step is the plain forecast`);
    t.equal(b[i]!.score, a[i]!.score);
  }
  t.not(b[29]!.forecast[1], b[29]!.forecast[0]);
  await m.release();
});

t.test('a time gap longer than maxGapMs resets the device', async (t) => {
  const m = await model();
  const engine = new Engine(m, { maxDelayMs: 0, maxGapMs: 60_000 });
  await run(engine, 'd', [1, 2, 3, 4, 5]);
  const after = await engine.push({ device: 'd', ts: 10_000_000, values: [6] });
  t.equal(after.expected, null, 'state restarted');
  t.equal(engine.counters.gapResets, 1);
  const fresh = await new Engine(m, { maxDelayMs: 0 }).push({ device: 'x', ts: 0, values: [6] });
  t.same(after.forecast, fresh.forecast, 'same as a brand-new device');
  await m.release();
});

t.test('idle devices expire after idleTtlMs', async (t) => {
  const m = await model();
  const engine = new Engine(m, { maxDelayMs: 0, idleTtlMs: 1000 });
  await engine.push({ device: 'a', values: [1] });
  await engine.push({ device: 'b', values: [1] });
  t.same(await engine.expireIdle(Date.now() + 500), []);
  t.same((await engine.expireIdle(Date.now() + 5000)).sort(), ['a', 'b']);
  t.equal(engine.devices, 0);
  t.equal(engine.counters.expired, 2);
  await engine.close();
  await m.release();
});

t.test('onForget tells which devices were evicted (LRU) or expired, and only those', async (t) => {
  const m = await model();
  const engine = new Engine(m, { maxDelayMs: 0, maxDevices: 2, idleTtlMs: 1000 });
  const forgotten: string[] = [];
  engine.onForget = (d, why) => forgotten.push(`${d}:${why}`);
  await engine.push({ device: 'a', values: [1] });
  await engine.push({ device: 'b', values: [1] });
  t.same(forgotten, []);
  await engine.push({ device: 'c', values: [1] });
  t.same(forgotten, ['a:evicted']);
  t.equal(engine.counters.evicted, 1);
  await engine.expireIdle(Date.now() + 5000);
  t.same(forgotten.slice(1).sort(), ['b:expired', 'c:expired']);
  await engine.close();
  await m.release();
});

t.test('state saved and restored continues exactly as an uninterrupted run', async (t) => {
  const dir = tempDir();
  const m = await model();
  const values = Array.from({ length: 60 }, (_, i) => wave(i));
  const straight = await run(new Engine(m, { maxDelayMs: 0 }), 'd', values);
  const first = new Engine(m, { maxDelayMs: 0 });
  await run(first, 'd', values.slice(0, 30));
  const file = join(dir, 'state.bin');
  await first.saveState(file);
  const second = new Engine(m, { maxDelayMs: 0 });
  t.equal(await second.loadState(file), 1);
  const rest = await run(second, 'd', values.slice(30), 30_000);
  for (let i = 0; i < 30; i++) {
    t.same(rest[i]!.forecast, straight[30 + i]!.forecast);
    t.equal(rest[i]!.likelihood, straight[30 + i]!.likelihood);
  }
  // A snapshot from another model is refused and the engine starts clean.
  const other = await loadModel(makeTestModel({ hidden: 16, seed: 99, normalization: perDevice }).bytes);
  const e3 = new Engine(other, { maxDelayMs: 0 });
  await t.rejects(e3.loadState(file), /taken under model test@1.0.0 .* not the loaded model test@1.0.0/);
  t.equal(e3.devices, 0);
  writeFileSync(file, 'garbage');
  await t.rejects(new Engine(m).loadState(file), { code: 'E_SNAPSHOT' });
  await m.release();
  await other.release();
});

t.test('reset of one device or all', async (t) => {
  const m = await model();
  const engine = new Engine(m, { maxDelayMs: 0 });
  await run(engine, 'a', [1, 2, 3]);
  await run(engine, 'b', [1, 2, 3]);
  t.equal(await engine.reset('a'), true);
  t.equal((await engine.push({ device: 'a', values: [4] })).expected, null);
  t.not((await engine.push({ device: 'b', values: [4] })).expected, null);
  await engine.reset('all');
  t.equal((await engine.push({ device: 'b', values: [5] })).expected, null);
  t.equal(await engine.reset('nobody'), false);
  await m.release();
});

t.test('a failed inference call rejects its samples and changes no state', async (t) => {
  const m = await model();
  const engine = new Engine(m, { maxDelayMs: 0 });
  await run(engine, 'a', [1, 2, 3]);
  const before = [...engine.store.h, ...engine.store.aux];
  const real = m.backend.run.bind(m.backend);
  (m.backend as { run: typeof real }).run = async () => {
    throw new Error('simulated runtime failure');
  };
  await t.rejects(engine.push({ device: 'a', values: [4] }), /inference failed; 1 samples not stepped: simulated runtime failure/);
  t.same([...engine.store.h, ...engine.store.aux], before);
  t.equal(engine.counters.failedBatches, 1);
  (m.backend as { run: typeof real }).run = real;
  t.ok((await engine.push({ device: 'a', values: [4] })).expected);
  await m.release();
});

t.test('a rollout call that fails (horizon > 1) changes no state either, though the step before it succeeded', async (t) => {
  const m = await model();
  const engine = new Engine(m, { maxDelayMs: 0, horizon: 3, maxGapMs: 1000 });
  await run(engine, 'a', [1, 2, 3]);
  const before = [...engine.store.h, ...engine.store.c, ...engine.store.aux];
  const real = m.backend.run.bind(m.backend);
  let calls = 0;
  (m.backend as { run: typeof real }).run = async (...a) => {
    if (++calls === 2) throw new Error('simulated rollout failure');
    return real(...a);
  };
  // The second reading comes after a gap: the reset it causes must not happen either.
  await t.rejects(engine.push({ device: 'a', values: [4], ts: 60_000 }), /simulated rollout failure/);
  t.same([...engine.store.h, ...engine.store.c, ...engine.store.aux], before);
  t.equal(engine.counters.gapResets, 0);
  (m.backend as { run: typeof real }).run = real;
  t.ok((await engine.push({ device: 'a', values: [4], ts: 3000 })).expected);
  await m.release();
});

t.test('options are validated once, by name', async (t) => {
  t.throws(() => resolveEngineOptions({ maxBatch: 0 }), /option maxBatch must be an integer from 1 to 65536, got 0/);
  t.throws(() => resolveEngineOptions({ threshold: 2 }), /option threshold/);
  t.throws(() => resolveEngineOptions({ likelihood: { shortWindow: 0 } }), /scoring.shortWindow/);
  t.equal(resolveEngineOptions({ maxBatch: undefined }).maxBatch, 4096);
  const m = await model();
  const e = new Engine(m);
  await e.close();
  await t.rejects(e.push({ device: 'a', values: [1] }), { code: 'E_CLOSED' });
  await m.release();
});

t.test('likelihood: quiet history then a jump approaches 1; the tail function is right', async (t) => {
  t.ok(Math.abs(normalTail(0) - 0.5) < 1e-7);
  t.ok(Math.abs(normalTail(1.959964) - 0.025) < 1e-6);
  t.ok(Math.abs(normalTail(-1.959964) - 0.975) < 1e-6);
  t.ok(Math.abs(logLikelihood(0.99999) - 0.5) < 1e-3);
  const a = new Float64Array(likelihoodWidth(DEFAULT_LIKELIHOOD));
  let l = 0;
  for (let i = 0; i < 500; i++) l = updateLikelihood(DEFAULT_LIKELIHOOD, a, 0, 1 + 0.1 * Math.sin(i));
  t.ok(l < 0.99, `steady scores are not unusual (${l})`);
  for (let i = 0; i < 3; i++) l = updateLikelihood(DEFAULT_LIKELIHOOD, a, 0, 20);
  t.ok(l > 0.9999, `a run of big scores is (${l})`);
});

t.test('submit: the callback form returns bad samples at once and calls back with results', async (t) => {
  const m = await model();
  const engine = new Engine(m, { maxDelayMs: 0 });
  let calls = 0;
  const bad = engine.submit({ device: 'a', values: [NaN] }, () => calls++);
  t.equal(bad?.code, 'E_BAD_VALUE');
  const result = await new Promise<Result | undefined>((resolve, reject) => {
    const err = engine.submit({ device: 'a', values: [1] }, (e, r) => (e ? reject(e) : resolve(r)));
    t.equal(err, undefined);
  });
  t.equal(result?.device, 'a');
  t.equal(calls, 0);
  t.equal(engine.counters.rejected, 1);
  t.equal(engine.counters.accepted, 1);
  await m.release();
});
