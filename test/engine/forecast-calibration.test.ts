import t from 'tap';
import { join } from 'node:path';
import { Engine } from '../../runtime/engine/engine';
import type { Result } from '../../runtime/engine/sample';
import { calibrate, CALIBRATION_WIDTH, learnCalibration, share } from '../../runtime/engine/forecast-calibration';
import { controlModel } from '../../runtime/eval/control-models';
import { tempDir } from '../helpers/models';

// The forecast's per-device recalibration (runtime/engine/forecast-calibration.ts), off by default.
const ON = { maxDelayMs: 0, scoring: { calibrationWindow: 200 } };

/** A deterministic random walk (a small LCG): persistence is the best one-step forecast. */
function walk(n: number): number[] {
  let s = 12345;
  let v = 100;
  return Array.from({ length: n }, () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    v += (s / 2147483648 - 0.5) * 4;
    return v;
  });
}

async function stream(engine: Engine, rows: readonly number[], from = 0): Promise<Result[]> {
  const out: Result[] = [];
  for (let i = 0; i < rows.length; i++) out.push(await engine.push({ device: 'd', ts: (from + i) * 60_000, values: [rows[i]!] }));
  return out;
}

const mae = (rs: readonly Result[], rows: readonly number[], from: number): number => {
  let s = 0;
  for (let i = from; i < rows.length; i++) s += Math.abs(rows[i]! - rs[i]!.expected![0]!);
  return s / (rows.length - from);
};

t.test('the fit: the share of the model step that the actual steps support, capped, learned only when told', async (t) => {
  const a = new Float64Array(CALIBRATION_WIDTH);
  t.equal(calibrate(200, a, 0, 10, 14), 14, 'unfitted: the model as it is');
  // The actual step is always half the model's: the fit settles on 0.5.
  for (let i = 0; i < 100; i++) {
    calibrate(200, a, 0, 10, 14);
    learnCalibration(200, a, 0, 12);
  }
  t.ok(Math.abs(share(a, 0) - 0.5) < 1e-12, `share ${share(a, 0)}`);
  t.ok(Math.abs(calibrate(200, a, 0, 10, 14) - 12) < 1e-9, 'the published forecast: last + half the model step');
  t.equal(calibrate(0, a, 0, 10, 14), 14, 'window 0: off');
  // Steps twice the model's: capped at 1.5.
  const b = new Float64Array(CALIBRATION_WIDTH);
  for (let i = 0; i < 100; i++) {
    calibrate(200, b, 0, 10, 11);
    learnCalibration(200, b, 0, 13);
  }
  t.equal(share(b, 0), 1.5);
});

t.test('a forecaster that does not fit the device is pulled towards what does: the running mean on a random walk', async (t) => {
  const rows = walk(3000);
  const on = await stream(new Engine(controlModel('mean'), ON), rows);
  const off = await stream(new Engine(controlModel('mean'), { maxDelayMs: 0 }), rows);
  let naive = 0;
  for (let i = 1500; i < rows.length; i++) naive += Math.abs(rows[i]! - rows[i - 1]!);
  naive /= rows.length - 1500;
  const mOn = mae(on, rows, 1500);
  const mOff = mae(off, rows, 1500);
  t.ok(mOn < 0.5 * mOff, `recalibrated MAE ${mOn.toFixed(3)} well below the raw forecast's ${mOff.toFixed(3)}`);
  t.ok(mOn < 1.1 * naive, `and close to persistence's ${naive.toFixed(3)}`);
  t.ok(Math.abs(on[1500]!.forecast![0]! - on[1501]!.expected![0]!) < 1e-9, 'the published forecast is the one scored next');
});

t.test('the fit is device state: a snapshot restored mid-stream gives the same forecasts', async (t) => {
  const rows = walk(1200);
  const whole = await stream(new Engine(controlModel('mean'), ON), rows);
  const dir = tempDir();
  const a = new Engine(controlModel('mean'), ON);
  const first = await stream(a, rows.slice(0, 700));
  await a.saveState(join(dir, 's.bin'));
  const b = new Engine(controlModel('mean'), ON);
  t.equal(await b.loadState(join(dir, 's.bin')), 1);
  const rest = await stream(b, rows.slice(700), 700);
  t.same([...first, ...rest].map((r) => [r.expected?.[0] ?? null, r.likelihood]), whole.map((r) => [r.expected?.[0] ?? null, r.likelihood]));
});

t.test('an anomaly does not teach the fit: steps inside an episode are not learned', async (t) => {
  // A walk with a burst of wild readings (an episode) in the middle; learned, its steps would drag the fit
  // far from persistence (forecast error after it about 8 against 1).
  const rows = walk(2000);
  const burst = rows.map((v, i) => (i >= 1200 && i < 1205 ? v + (i % 2 === 0 ? 300 : -300) : v));
  const rs = await stream(new Engine(controlModel('mean'), ON), burst);
  const inEpisode = rs.slice(1200, 1210).filter((r) => r.anomaly).length;
  t.ok(inEpisode >= 3, `the burst is an episode (${inEpisode} anomalous readings)`);
  const mAfter = mae(rs, burst, 1300);
  const plain = await stream(new Engine(controlModel('mean'), ON), rows);
  t.ok(Math.abs(mAfter - mae(plain, rows, 1300)) < 0.2 * mae(plain, rows, 1300), `forecast error after the episode ${mAfter.toFixed(3)} as without it`);
});
