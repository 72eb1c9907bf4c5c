import t from 'tap';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DETECTORS } from '../../runtime/eval/detectors';
import type { LstmDetector } from '../../runtime/eval/lstm-detector';
import { StoredScoresDetector } from '../../runtime/eval/stored-scores-detector';
import { parseNabTime } from '../../runtime/eval/timestamp';
import { ZScoreDetector } from '../../runtime/eval/zscore-detector';
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

t.test('zscore detector: options are validated at construction', async (t) => {
  t.throws(() => new ZScoreDetector({ alpha: 0 }), { name: 'RangeError', message: /alpha: expected a number in \(0, 1\], found 0/ });
  t.throws(() => new ZScoreDetector({ errorWindow: 0 }), /errorWindow/);
  t.throws(() => new ZScoreDetector({ zCap: -1 }), /zCap/);
  t.throws(() => new ZScoreDetector({ restRows: 1.5 }), /restRows: expected an integer >= 0/);
});

t.test('zscore detector: scores in [0, 1], a spike scores high, reset forgets, rest period holds alarms back', async (t) => {
  const d = new ZScoreDetector();
  const ys = series(3000, 2000);
  const run = (): { scores: number[]; forecasts: number[] } => {
    d.reset();
    const scores: number[] = [];
    const forecasts: number[] = [];
    ys.forEach((y, i) => {
      const o = d.step(i * 300_000, y);
      scores.push(o.score);
      forecasts.push(o.forecast!);
    });
    return { scores, forecasts };
  };
  const a = run();
  t.ok(a.scores.every((s) => s >= 0 && s <= 1));
  t.equal(a.scores[0], 0, 'nothing to compare the first row with');
  const peak = Math.max(...a.scores.slice(1990, 2010));
  t.ok(peak >= 0.5, `spike crosses likelihood 0.99999 (${peak.toFixed(3)})`);
  t.ok(Math.max(...a.scores.slice(1000, 1990)) < peak, 'quiet stretch scores lower');
  const at = a.scores.indexOf(peak, 1990);
  t.ok(a.scores.slice(at + 1, at + 151).every((s) => s < 0.5), 'no second alarm inside the 150-row rest period');
  t.same(run(), a, 'reset: a second pass is identical');
  t.ok(Math.abs(a.forecasts[100]! - ys[100]!) < 2, 'forecast tracks the level');
});

t.test('registry: zscore, persistence and stored; options are checked by name and value', async (t) => {
  t.same(Object.keys(DETECTORS), ['zscore', 'lstm', 'persistence', 'stored']);
  t.equal((await DETECTORS['zscore']!.create({})).name, 'zscore-likelihood');
  t.equal((await DETECTORS['persistence']!.create({ options: { restRows: 10 } })).name, 'persistence-calibrated');
  t.throws(() => DETECTORS['zscore']!.create({ options: { alpha: 2 } }), { code: 'E_CONFIG', message: /--detector-options: alpha/ });
  t.throws(() => DETECTORS['persistence']!.create({ options: { alpha: 0.5 } }), { code: 'E_CONFIG', message: /unknown option "alpha"/ });
  await t.rejects(Promise.resolve().then(() => DETECTORS['lstm']!.create({ modelPath: '/nonexistent.onnx', options: { scale: 'l2' } })), { code: 'E_CONFIG', message: /scale: expected "mae" or "rms", found "l2"/ });
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
  const lstm = await DETECTORS['lstm']!.create({ modelPath: model, options: { restRows: 100 } });
  t.equal(lstm.name, 'edgelstm-lstm');
  t.equal((lstm as LstmDetector).calibration.restRows, 100, 'options reach the calibration');
  t.equal((lstm as LstmDetector).calibration.scale, 'mae', 'the rest stay at their defaults');
  const paths = resolveNabPaths(NAB_DIR);
  const labels = readWindowLabels(paths.labelsFile);
  const runs = await runCorpus(lstm, ['artificialWithAnomaly/art_daily_jumpsup.csv'], (k) => loadNabFile(paths, labels, k));
  t.equal(runs[0]!.scores.length, 4032);
  t.ok(runs[0]!.forecasts.slice(1).every((f) => Number.isFinite(f)), 'a forecast for every row after the first');
  t.ok(runs[0]!.forecastAccuracy.methods.detector, 'forecast accuracy measured for the LSTM');
  t.equal(evaluateNab(runs, NAB_PROFILES)[0]!.score.windows, 1);
});
