import t from 'tap';
import { createHash } from 'node:crypto';
import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Engine } from '../../../runtime/engine/engine';
import { ENGINE_DEFAULTS, resolveEngineOptions } from '../../../runtime/engine/options';
import type { Result } from '../../../runtime/engine/sample';
import { EpisodeGate } from '../../../runtime/engine/scoring/episode-gate';
import { controlModel } from '../../../runtime/eval/control-models';
import { loadModel } from '../../../runtime/model/load-model';
import { makeTestModel, tempDir } from '../../helpers/models';

/** A deterministic noisy wave (no Math.random: tests must repeat). */
function wave(i: number, phase = 0): number {
  return 50 + 10 * Math.sin((2 * Math.PI * i) / 24 + phase) + 0.7 * Math.sin(i * 1.7 + phase) + 0.4 * Math.sin(i * 4.1);
}

async function stream(engine: Engine, device: string, rows: number[][], t0 = 0, stepMs = 1000): Promise<Result[]> {
  const out: Result[] = [];
  for (let i = 0; i < rows.length; i++) out.push(await engine.push({ device, ts: t0 + i * stepMs, values: rows[i]! }));
  return out;
}

const starts = (rs: readonly Result[]): number => rs.filter((r) => r.episode?.state === 'start').length;

t.test('a sustained level shift holds one episode open (not absorbed); a spike makes one short episode', async (t) => {
  const engine = new Engine(controlModel('persistence'), { maxDelayMs: 0 });
  const rows = Array.from({ length: 1200 }, (_, i) => [wave(i) + (i >= 600 && i < 800 ? 40 : 0) + (i === 1000 ? 60 : 0)]);
  const rs = await stream(engine, 'd', rows);
  t.notOk(rs.slice(0, 600).some((r) => r.anomaly), 'no alarm on the clean wave');
  t.equal(starts(rs.slice(600, 800)), 1, 'one episode for the shift');
  const held = rs.slice(600, 800).filter((r) => r.anomaly).length;
  t.ok(held >= 180, `the episode stays open while the shift lasts (${held} of 200 readings)`);
  t.ok(rs.slice(601, 800).every((r) => r.likelihood! < ENGINE_DEFAULTS.threshold), 'inside the episode the likelihood stays below the threshold');
  t.same(rs[600]!.anomalous, ['value'], 'the feature is named');
  const end = rs.findIndex((r, i) => i > 600 && r.episode?.state === 'end');
  t.ok(end >= 800 && end < 830, `it ends once the level is back (${end})`);
  t.equal(rs[end]!.anomaly, false);
  t.equal(rs[end]!.episode!.readings, end - 600 + 1);
  t.ok(rs[end]!.episode!.peak >= ENGINE_DEFAULTS.threshold && rs[end]!.episode!.durationMs === (end - 600) * 1000);
  t.equal(starts(rs.slice(990, 1010)), 1, 'the spike: one episode');
  const spike = rs.slice(990, 1100).filter((r) => r.anomaly).length;
  t.ok(spike < 40, `and a short one (${spike} readings, against 200 for the shift)`);
});

t.test('a stuck sensor is an episode at its evidence (stuckNines); one that often repeats values (a counter) is not stuck', async (t) => {
  const rows = Array.from({ length: 800 }, (_, i) => [i >= 500 && i < 700 ? 47.25 : wave(i)]);
  // The presets ask for more evidence than a stuck value alone gives (on NAB, unlabelled flat lines cost more than
  // they found): its likelihood is 1 - 10^-stuckNines, and a threshold at that level alarms on it.
  const quiet = await stream(new Engine(controlModel('persistence'), { maxDelayMs: 0 }), 'd', rows);
  const stuckLik = 1 - 10 ** -resolveEngineOptions({}).scoring.stuckNines;
  t.ok(quiet.slice(540, 700).every((r) => r.likelihood! >= stuckLik - 1e-12), 'a stuck value scores stuckNines throughout');
  const engine = new Engine(controlModel('persistence'), { maxDelayMs: 0, threshold: stuckLik });
  const rs = await stream(engine, 'd', rows);
  t.notOk(rs.slice(0, 500).some((r) => r.anomaly));
  const first = rs.findIndex((r) => r.anomaly);
  t.ok(first >= 500 && first <= 540, `flagged once it has repeated stuckReadings times (${first})`);
  t.ok(rs.slice(540, 700).every((r) => r.anomaly), 'held while stuck');
  // A counter that sits at 0 for a while every 50 readings, then at 0 for longer: not a stuck sensor.
  const counter = Array.from({ length: 800 }, (_, i) => [i % 50 < 20 || (i >= 500 && i < 560) ? 0 : Math.round(wave(i))]);
  const rc = await stream(new Engine(controlModel('persistence'), { maxDelayMs: 0, scoring: { noveltyMargin: -1 } }), 'c', counter);
  t.notOk(rc.slice(520, 560).some((r) => r.anomaly), 'a counter that often repeats 0 is not stuck at 0');
});

t.test('multivariate, channel-independent: a shift in one clean channel is found beside a noisy one, and named', async (t) => {
  const m = await loadModel(makeTestModel({ hidden: 8, normalization: { mode: 'per-device', window: 200, minStd: 1e-3 } }).bytes);
  const engine = new Engine(m, { maxDelayMs: 0, features: ['clean', 'noisy'] });
  t.same(engine.shape.features, ['clean', 'noisy']);
  t.equal(engine.shape.lanes, 2);
  const noisy = (i: number): number => 20 + 8 * Math.sin(i * 2.3) * Math.sin(i * 0.37);
  const rows = Array.from({ length: 900 }, (_, i) => [wave(i) + (i >= 600 ? 30 : 0), noisy(i)]);
  const rs = await stream(engine, 'pump', rows);
  t.equal(rs[0]!.expected, null);
  t.equal(rs[5]!.expected!.length, 2, 'one forecast per feature');
  t.notOk(rs.slice(150, 600).some((r) => r.anomalous.includes('clean')), 'the clean channel is quiet before the shift');
  const at = rs.findIndex((r, i) => i >= 600 && r.anomaly);
  t.ok(at >= 600 && at <= 602, `the shift in the clean channel alarms at once (${at})`);
  t.ok(rs[at]!.anomalous.includes('clean'), `named: ${rs[at]!.anomalous.join(',')}`);
  t.notOk(rs[at]!.anomalous.includes('noisy'));
  // Each channel is the univariate model on its own: the same forecasts as a one-feature engine fed that channel alone.
  const alone = await stream(new Engine(m, { maxDelayMs: 0, features: ['clean'] }), 'x', rows.map((r) => [r[0]!]));
  t.same(rs.slice(0, 50).map((r) => r.forecast[0]), alone.slice(0, 50).map((r) => r.forecast[0]), 'channels are independent');
  await t.rejects(engine.push({ device: 'pump', values: [1] }), { code: 'E_BAD_LENGTH', message: /wrong number of values/ });
  const two = await loadModel(makeTestModel({ hidden: 8, features: ['a', 'b'] }).bytes);
  t.throws(() => new Engine(two, { features: ['a', 'b', 'c'] }), { code: 'E_CONFIG', message: /only a univariate model/ });
  t.throws(() => new Engine(m, { features: ['a', 'a'] }), { code: 'E_CONFIG', message: /distinct/ });
  await m.release();
  await two.release();
});

t.test('learning period by count and by duration: no alarm in it; a restart resumes it from the snapshot', async (t) => {
  const rows = Array.from({ length: 400 }, (_, i) => [wave(i) + (i === 150 ? 80 : 0)]);
  const byCount = await stream(new Engine(controlModel('persistence'), { maxDelayMs: 0, warmup: 200 }), 'd', rows);
  t.ok(byCount.slice(0, 200).every((r) => r.warmup && !r.anomaly), 'count: no alarm in the first 200');
  t.notOk(byCount[250]!.warmup);
  // 1 reading per minute and a learning period of 4 hours: 240 readings.
  const byTime = await stream(new Engine(controlModel('persistence'), { maxDelayMs: 0, warmup: 10, warmupMs: 4 * 3_600_000 }), 'd', rows, 0, 60_000);
  t.ok(byTime.slice(0, 240).every((r) => r.warmup && !r.anomaly), 'duration: no alarm in the first 4 hours');
  t.notOk(byTime[241]!.warmup);
  // Cut by a restart at reading 100: resumes from the snapshot and gives what an uninterrupted run gives.
  const dir = tempDir();
  const a = new Engine(controlModel('persistence'), { maxDelayMs: 0, warmup: 200 });
  await stream(a, 'd', rows.slice(0, 100));
  await a.saveState(join(dir, 's.bin'));
  const b = new Engine(controlModel('persistence'), { maxDelayMs: 0, warmup: 200 });
  t.equal(await b.loadState(join(dir, 's.bin')), 1);
  const rest = await stream(b, 'd', rows.slice(100), 100_000);
  t.same(rest.map((r) => [r.likelihood, r.anomaly, r.warmup]), byCount.slice(100).map((r) => [r.likelihood, r.anomaly, r.warmup]));
  // A snapshot of format 5 (the time-of-day profile's hours not yet interleaved) is refused, saying why; the engine starts clean.
  // (Its checksum made again, so that the format, not the checksum, is what refuses it.)
  const saved = readFileSync(join(dir, 's.bin')).toString('latin1');
  const body = Buffer.from(saved.slice(0, saved.length - 32).replace('"format":6', '"format":5'), 'latin1');
  t.not(body.toString('latin1'), saved.slice(0, saved.length - 32), 'the snapshot was of format 6');
  writeFileSync(join(dir, 'old.bin'), Buffer.concat([body, createHash('sha256').update(body).digest()]));
  const c = new Engine(controlModel('persistence'), { maxDelayMs: 0 });
  await t.rejects(c.loadState(join(dir, 'old.bin')), { code: 'E_SNAPSHOT', message: /format version 5.*older detector/ });
  t.equal(c.devices, 0);
});

t.test('an invalid reading never enters the statistics', async (t) => {
  const rows = Array.from({ length: 300 }, (_, i) => [wave(i)]);
  const clean = await stream(new Engine(controlModel('persistence'), { maxDelayMs: 0 }), 'd', rows);
  const e = new Engine(controlModel('persistence'), { maxDelayMs: 0 });
  const mixed: Result[] = [];
  for (let i = 0; i < rows.length; i++) {
    if (i % 50 === 7) await t.rejects(e.push({ device: 'd', ts: i * 1000, values: [Number.NaN] }), { code: 'E_BAD_VALUE' });
    mixed.push(await e.push({ device: 'd', ts: i * 1000, values: rows[i]! }));
  }
  t.same(mixed.map((r) => r.likelihood), clean.map((r) => r.likelihood));
});

t.test('presets and scoring options are validated by name', async (t) => {
  t.equal(resolveEngineOptions({}).threshold, 1 - 1e-9);
  t.equal(resolveEngineOptions({ sensitivity: 'high' }).threshold, 1 - 1e-8);
  t.equal(resolveEngineOptions({ sensitivity: 'low' }).threshold, 1 - 1e-11);
  t.equal(resolveEngineOptions({ sensitivity: 'high', threshold: 0.5 }).threshold, 0.5, 'an explicit threshold wins');
  t.throws(() => resolveEngineOptions({ sensitivity: 'loud' as 'low' }), { code: 'E_CONFIG', message: /sensitivity must be one of low, normal, high/ });
  t.throws(() => resolveEngineOptions({ scoring: { calmReadings: 0 } }), /scoring.calmReadings/);
  t.throws(() => resolveEngineOptions({ warmupMs: -1 }), /warmupMs/);
  t.equal(resolveEngineOptions({ likelihood: { shortWindow: 7 } }).scoring.shortWindow, 7, 'likelihood is shorthand for scoring');
});

t.test('an episode gate at its own threshold: one start and one end per episode', async (t) => {
  const gate = new EpisodeGate(0.9, { refractory: 0 });
  const mk = (i: number, lik: number): Result => ({ device: 'd', ts: i * 1000, values: [0], expected: [0], error: [0], score: 0, likelihood: lik, anomaly: false, anomalous: lik >= 0.9 ? ['value'] : [], episode: null, forecast: [0], warmup: false, model: 'm' });
  const liks = [0.1, 0.95, 0.99, 0.5, 0.2, 0.1, 0.1, 0.97, 0.1];
  const rs = liks.map((l, i) => {
    const r = mk(i, l);
    gate.apply(r);
    return r;
  });
  t.same(rs.map((r) => r.episode?.state ?? '-'), ['-', 'start', 'active', 'active', 'active', 'end', '-', 'start', 'active']);
  t.same(rs.map((r) => r.anomaly), [false, true, true, true, true, false, false, true, true]);
  t.equal(rs[5]!.episode!.peak, 0.99);
  t.equal(rs[5]!.episode!.readings, 5);
  t.same(rs[5]!.episode!.features, ['value']);
  gate.forget('all');
  const w = mk(9, 0.99);
  w.warmup = true;
  gate.apply(w);
  t.equal(w.anomaly, false, 'nothing in the learning period');
  // With a refractory period (the engine's default), an aftershock below the last peak opens nothing; a stronger one does.
  const quiet = new EpisodeGate(0.9, { refractory: 5 });
  const states = [0.1, 0.95, 0.5, 0.2, 0.1, 0.93, 0.1, 0.99, 0.1].map((l, i) => {
    const r = mk(i, l);
    quiet.apply(r);
    return r.episode?.state ?? '-';
  });
  t.same(states, ['-', 'start', 'active', 'active', 'end', '-', '-', 'start', 'active']);
});

t.test('the likelihood keeps the order of the evidence: a larger departure scores higher, and neither is 1', async (t) => {
  const peakOf = async (size: number): Promise<number> => {
    const rows = Array.from({ length: 700 }, (_, i) => [wave(i) + (i === 600 ? size : 0)]);
    const rs = await stream(new Engine(controlModel('persistence'), { maxDelayMs: 0 }), 'd', rows);
    return rs[600]!.likelihood!;
  };
  const small = await peakOf(15);
  const large = await peakOf(60);
  t.ok(small >= ENGINE_DEFAULTS.threshold, `a spike just past the range alarms (${small})`);
  t.ok(large > small && large < 1, `a four times larger one scores higher, still below 1 (${large} > ${small})`);
});

t.test('refractory: after an episode, only evidence stronger than its peak opens another', async (t) => {
  const rows = Array.from({ length: 800 }, (_, i) => [wave(i) + (i === 600 ? 40 : 0) + (i === 640 ? -25 : 0) + (i === 680 ? 200 : 0)]);
  const plain = await stream(new Engine(controlModel('mean'), { maxDelayMs: 0, scoring: { refractory: 1 } }), 'd', rows);
  t.equal(starts(plain.slice(600, 700)), 3, 'with a refractory period of one reading: three episodes');
  const quiet = await stream(new Engine(controlModel('mean'), { maxDelayMs: 0, scoring: { refractory: 200 } }), 'd', rows);
  t.equal(quiet[600]!.episode?.state, 'start');
  t.equal(quiet.slice(636, 660).filter((r) => r.episode?.state === 'start').length, 0, 'a smaller spike inside the refractory period opens nothing');
  t.ok(quiet[640]!.likelihood! <= 0.995 && plain[640]!.likelihood! > 0.995, `its likelihood is held below the alarm level (${quiet[640]!.likelihood} vs ${plain[640]!.likelihood})`);
  t.equal(quiet[680]!.episode?.state, 'start', 'a larger one still opens an episode');
  t.throws(() => resolveEngineOptions({ scoring: { refractory: -1 } }), /scoring.refractory/);
  // Episodes calmed by the recent errors need one: 0 would reopen one at the next reading of the same event.
  t.throws(() => resolveEngineOptions({ scoring: { refractory: 0 } }), /scoring.refractory must be an integer from 1/);
  t.doesNotThrow(() => resolveEngineOptions({ scoring: { refractory: 0, calmZ: 0 } }));
});
