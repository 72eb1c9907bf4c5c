import t from 'tap';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DETECTORS } from '../../runtime/eval/detectors';
import type { EngineDetector } from '../../runtime/eval/engine-detector';
import { ENGINE_DEFAULTS } from '../../runtime/engine/options';
import { StoredScoresDetector } from '../../runtime/eval/stored-scores-detector';
import { parseNabTime } from '../../runtime/eval/timestamp';
import type { Detector } from '../../runtime/eval/detector';
import { runCorpus } from '../../runtime/eval/harness';
import { readWindowLabels } from '../../runtime/eval/labels';
import { loadNabFile, resolveNabPaths } from '../../runtime/eval/nab-corpus';
import { evaluateNab } from '../../runtime/eval/nab-evaluation';
import { NAB_PROFILES } from '../../runtime/eval/profiles';
import { tempDir, writeTestModel } from '../helpers/models';
import { HAVE_NAB, NAB_DIR, NO_NAB, skipUnless } from './nab-dir';

function series(n: number, spikeAt: number): number[] {
  // A deterministic wiggle (no Math.random: tests must repeat) with one spike.
  return Array.from({ length: n }, (_, i) => 10 + Math.sin(i / 3) + 0.3 * Math.sin(i * 1.7) + (i === spikeAt ? 25 : 0));
}

async function stream(d: Detector, ys: number[]): Promise<{ scores: number[]; flags: boolean[]; forecasts: number[] }> {
  await d.reset({ file: 'cat/f.csv' });
  const scores: number[] = [];
  const flags: boolean[] = [];
  const forecasts: number[] = [];
  for (let i = 0; i < ys.length; i++) {
    const o = await d.step(i * 300_000, ys[i]!);
    scores.push(o.score);
    flags.push(o.flag!);
    forecasts.push(o.forecast!);
  }
  return { scores, flags, forecasts };
}

t.test('the controls are the engine with a naive forecaster: scores in [0, 1], a spike alarms once, reset forgets', async (t) => {
  for (const [name, forecast] of [['persistence', (ys: number[], i: number) => ys[i]!], ['zscore', undefined]] as const) {
    const d = await DETECTORS[name]!.create({});
    const ys = series(3000, 2000);
    const a = await stream(d, ys);
    t.ok(a.scores.every((s) => s >= 0 && s <= 1), `${name}: scores in [0, 1]`);
    t.equal(a.scores[0], 0, `${name}: nothing to compare the first row with`);
    const peak = Math.max(...a.scores.slice(1990, 2010));
    t.ok(peak >= ENGINE_DEFAULTS.threshold, `${name}: the spike reaches the default threshold (${peak})`);
    t.ok(a.flags[2000], `${name}: flagged at the spike`);
    t.ok(a.flags.slice(2000, 2100).filter((f, i, xs) => f && (i === 0 || !xs[i - 1])).length === 1, `${name}: one episode`);
    t.ok(a.scores.slice(2001, 2100).every((s) => s < ENGINE_DEFAULTS.threshold), `${name}: the likelihood reaches the threshold once per episode`);
    if (forecast) t.ok(Math.abs(a.forecasts[100]! - forecast(ys, 100)) < 1e-4, `${name}: next = last (float32)`);
    t.same(await stream(d, ys), a, `${name}: reset: a second pass is identical`);
    await d.close?.();
  }
});

t.test('registry: lstm first, the two controls, stored; engine options are checked by name and value', async (t) => {
  t.same(Object.keys(DETECTORS), ['lstm', 'persistence', 'zscore', 'stored']);
  t.equal((await DETECTORS['zscore']!.create({})).name, 'engine-zscore');
  t.equal((await DETECTORS['persistence']!.create({ options: { warmup: 10 } })).name, 'engine-persistence');
  await t.rejects(Promise.resolve().then(() => DETECTORS['zscore']!.create({ options: { threshold: 2 } })), { code: 'E_CONFIG', message: /--detector-options: option threshold/ });
  await t.rejects(Promise.resolve().then(() => DETECTORS['lstm']!.create({ modelPath: '/nonexistent.onnx', options: { scoring: { zCap: -1 } } })), { code: 'E_CONFIG', message: /scoring.zCap/ });
  t.throws(() => DETECTORS['stored']!.create({}), { code: 'E_CONFIG', message: /--scores/ });
});

t.test('stored scores: NAB layout, alignment checked row by row', async (t) => {
  const dir = join(mkdtempSync(join(tmpdir(), 'edgelstm-stored-')), 'mydet');
  mkdirSync(join(dir, 'cat'), { recursive: true });
  writeFileSync(join(dir, 'cat', 'mydet_f.csv'), 'timestamp,anomaly_score\n2014-01-01 00:00:00,0.1\n2014-01-01 00:05:00,0.9\n');
  const d = DETECTORS['stored']!.create({ scoresDir: dir }) as Detector;
  t.ok(d instanceof StoredScoresDetector);
  t.equal(d.name, 'stored:mydet');
  t.throws(() => d.step(0, 1), /step before reset/);
  t.throws(() => d.reset(), /needs the file name/);
  d.reset({ file: 'cat/f.csv', inputMin: 0, inputMax: 1 });
  t.same(d.step(parseNabTime('2014-01-01 00:00:00'), 5), { score: 0.1 });
  t.throws(() => d.step(parseNabTime('2014-01-01 00:06:00'), 5), { code: 'E_CSV', message: /mydet_f\.csv, line 3, column timestamp: stored scores do not line up/ });
  t.throws(() => d.reset({ file: 'cat/g.csv', inputMin: 0, inputMax: 1 }), { code: 'E_CSV', message: /no stored scores for cat\/g\.csv/ });
});

t.test('the lstm registry entry streams a NAB file through the engine end to end', { skip: skipUnless(HAVE_NAB, NO_NAB) }, async (t) => {
  const model = writeTestModel(tempDir(), { hidden: 8 });
  const lstm = await DETECTORS['lstm']!.create({ modelPath: model, options: { warmup: 50 } });
  t.equal(lstm.name, 'edgelstm-lstm');
  t.equal((lstm as EngineDetector).engine.options.warmup, 50, 'options reach the engine');
  t.equal((lstm as EngineDetector).engine.options.threshold, ENGINE_DEFAULTS.threshold, 'the rest stay at their defaults');
  const paths = resolveNabPaths(NAB_DIR);
  const labels = readWindowLabels(paths.labelsFile);
  const runs = await runCorpus(lstm, ['artificialWithAnomaly/art_daily_jumpsup.csv'], (k) => loadNabFile(paths, labels, k));
  t.equal(runs[0]!.scores.length, 4032);
  t.ok(runs[0]!.forecasts.slice(1).every((f) => Number.isFinite(f)), 'a forecast for every row after the first');
  t.ok(runs[0]!.forecastAccuracy.methods.detector, 'forecast accuracy measured for the LSTM');
  t.equal(evaluateNab(runs, NAB_PROFILES)[0]!.score.windows, 1);
  t.equal(runs[0]!.flags?.length, 4032, 'the engine flag is recorded for every row');
});
