import t from 'tap';
import { CALIBRATION_DEFAULTS, ErrorCalibration, resolveCalibration } from '../../runtime/eval/error-calibration';
import { PersistenceDetector } from '../../runtime/eval/persistence-detector';

/** A deterministic wiggle (tests must repeat) with optional events. */
function wiggle(i: number): number {
  return 10 + Math.sin(i / 3) + 0.3 * Math.sin(i * 1.7);
}

/** Streams values with "forecast errors" against a fixed forecast of the wiggle, as the LSTM detector does. */
function run(c: ErrorCalibration, values: number[]): number[] {
  c.reset();
  return values.map((v, i) => c.score(v, i === 0 ? null : v - wiggle(i) + 0.2 * Math.sin(i * 0.77)));
}

t.test('options: defaults, and every bad value named', async (t) => {
  t.same(resolveCalibration(), { ...CALIBRATION_DEFAULTS, likelihood: { ...CALIBRATION_DEFAULTS.likelihood } });
  t.equal(resolveCalibration({ likelihood: { shortWindow: 20 } as never }).likelihood.longWindow, 2000, 'likelihood options merge');
  t.throws(() => new ErrorCalibration({ errorWindow: 0 }), { name: 'RangeError', message: 'errorWindow: expected an integer >= 1, found 0' });
  t.throws(() => new ErrorCalibration({ scale: 'l1' as never }), /scale: expected "mae" or "rms", found "l1"/);
  t.throws(() => new ErrorCalibration({ zCap: 0 }), /zCap/);
  t.throws(() => new ErrorCalibration({ novelty: 1 as never }), /novelty: expected true or false/);
  t.throws(() => new ErrorCalibration({ noveltyMargin: -0.1 }), /noveltyMargin/);
  t.throws(() => new ErrorCalibration({ noveltyAfter: 1.5 }), /noveltyAfter/);
  t.throws(() => new ErrorCalibration({ restRows: -1 }), /restRows/);
  t.throws(() => new ErrorCalibration({ restLevel: 0 }), /restLevel/);
  t.throws(() => new ErrorCalibration({ errors: 'yes' as never }), /errors/);
  t.throws(() => new ErrorCalibration({ likelihood: { shortWindow: 0, longWindow: 10, minStd: 0.1 } }), /likelihood\.shortWindow/);
});

t.test('a forecast error spike scores high, quiet rows low, then the rest period holds alarms back', async (t) => {
  const values = Array.from({ length: 3000 }, (_, i) => wiggle(i) + (i === 2000 ? 0.8 : 0));
  const c = new ErrorCalibration({ novelty: false });
  const s = run(c, values);
  t.ok(s.every((x) => x >= 0 && x <= 1), 'scores in [0, 1]');
  t.equal(s[0], 0, 'no error on the first row: score 0');
  const peak = Math.max(...s.slice(1995, 2010));
  t.ok(peak >= 0.5, `the spike crosses 0.5 (${peak.toFixed(3)})`);
  t.ok(Math.max(...s.slice(1000, 1990)) < 0.5, 'no alarm in the quiet stretch');
  const at = s.indexOf(peak, 1995);
  t.ok(s.slice(at + 1, at + 151).every((x) => x < 0.5), 'held below 0.5 for the 150 rest rows');
  t.same(run(c, values), s, 'reset: a second pass is identical');
  const noRest = run(new ErrorCalibration({ novelty: false, restRows: 0 }), values);
  t.ok(noRest.slice(at + 1, at + 151).some((x) => x >= 0.5), 'without the rest period the alarm repeats');
});

t.test('range novelty: a value beyond the range seen so far scores 1, within the margin it does not', async (t) => {
  // A step inside the range is not novel; a climb 3% past the top is within the 5% margin; 20% past is novel.
  const base = Array.from({ length: 1000 }, (_, i) => wiggle(i));
  const top = Math.max(...base);
  const bottom = Math.min(...base);
  const range = top - bottom;
  const values = [...base, top + 0.03 * range, top + 0.2 * range, ...base.slice(0, 200)];
  const errorsOff = new ErrorCalibration({ errors: false });
  const s = run(errorsOff, values);
  t.ok(s.slice(0, 1000).every((x) => x < 0.5), 'nothing novel while the range fills in (and errors are off)');
  t.ok(s[1000]! < 0.5, 'within the margin');
  t.equal(s[1001], 1, 'past the margin');
  const early = run(new ErrorCalibration({ errors: false, noveltyAfter: 2000 }), values);
  t.ok(early.every((x) => x < 0.5), 'not before noveltyAfter rows');
  const flat = new ErrorCalibration({ errors: false, noveltyAfter: 5 });
  const f = run(flat, [...Array<number>(20).fill(3), 3.001]);
  t.equal(f[20], 1, 'a flat history: any other value is new');
  t.ok(run(new ErrorCalibration({ novelty: false }), values)[1001]! < 1, 'novelty off: the same row is scored by its error only');
});

t.test('the scale: MAE shrugs off one huge error that an RMS scale remembers', async (t) => {
  const values = Array.from({ length: 1500 }, (_, i) => wiggle(i) + (i === 500 ? 20 : 0) + (i === 1000 ? 1.5 : 0));
  const mae = run(new ErrorCalibration({ novelty: false, restRows: 0 }), values);
  const rms = run(new ErrorCalibration({ novelty: false, restRows: 0, scale: 'rms' }), values);
  const peak = (s: number[]): number => Math.max(...s.slice(1000, 1012));
  t.ok(peak(mae) >= 0.5, `MAE scale: the later, small spike still alarms (${peak(mae).toFixed(3)})`);
  t.ok(peak(rms) < peak(mae), `RMS scale: it is masked by the huge one (${peak(rms).toFixed(3)})`);
});

t.test('persistence detector: forecast = last value, the same calibration', async (t) => {
  const d = new PersistenceDetector({ restRows: 0 });
  d.reset();
  t.same(d.step(0, 5), { score: 0, forecast: 5 });
  const o = d.step(1, 7);
  t.equal(o.forecast, 7);
  t.ok(o.score >= 0 && o.score <= 1);
  t.throws(() => new PersistenceDetector({ zCap: -1 }), /zCap/);
});
