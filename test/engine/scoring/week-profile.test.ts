import t from 'tap';
import { join } from 'node:path';
import { Engine } from '../../../runtime/engine/engine';
import type { Result } from '../../../runtime/engine/sample';
import { WEEK_BINS, weekBin } from '../../../runtime/engine/scoring/week-profile';
import { controlModel } from '../../../runtime/eval/control-models';
import { tempDir } from '../../helpers/models';

// The week profile (runtime/engine/scoring/week-profile.ts).
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const STEP = 15 * 60_000;
const PER_DAY = DAY / STEP;
const PER_WEEK = 7 * PER_DAY;

/** Day of the week of reading `i` (0 Sunday; 1970-01-01 was a Thursday). */
const weekday = (i: number): number => (Math.floor((i * STEP) / DAY) + 4) % 7;

/** Workdays peak at noon, weekends stay flat; a little deterministic noise. */
function office(i: number, skipDay = -1): number {
  const h = ((i * STEP) % DAY) / HOUR;
  const wd = weekday(i);
  const work = wd >= 1 && wd <= 5 && Math.floor((i * STEP) / DAY) !== skipDay;
  return 20 + (work && h > 8 && h < 16 ? 30 * Math.sin(((h - 8) / 8) * Math.PI) : 0) + 0.5 * Math.sin(i * 1.7) + 0.3 * Math.sin(i * 4.1);
}

async function stream(engine: Engine, rows: readonly number[], from = 0): Promise<Result[]> {
  const out: Result[] = [];
  for (let i = 0; i < rows.length; i++) out.push(await engine.push({ device: 'd', ts: (from + i) * STEP, values: [rows[i]!] }));
  return out;
}

const starts = (rs: readonly Result[]): number => rs.filter((r) => r.episode?.state === 'start').length;

t.test('bins of 4 hours of the UTC week', async (t) => {
  t.equal(WEEK_BINS, 42);
  t.equal(weekBin(0), 0);
  t.equal(weekBin(4 * HOUR - 1), 0);
  t.equal(weekBin(4 * HOUR), 1);
  t.equal(weekBin(7 * DAY - 1), 41);
  t.equal(weekBin(7 * DAY + 5 * HOUR), 1, 'the next week');
  t.equal(weekBin(-1), 41, 'before 1970 too');
});

// Five weeks of office hours; in the fifth, one workday (a Wednesday) reads like a Sunday: no noon peak.
const skip = 4 * 7 + 6; // day 34 since 1970-01-01: a Wednesday
const rows = Array.from({ length: 5 * PER_WEEK }, (_, i) => office(i, skip));
const dayOf = (rs: readonly Result[], d: number): Result[] => rs.slice(d * PER_DAY, (d + 1) * PER_DAY);

t.test('a workday that reads like a Sunday alarms with the week profile, not with the daily one alone', async (t) => {
  t.equal(weekday(skip * PER_DAY), 3, 'the day without its peak is a Wednesday');
  const weekly = await stream(new Engine(controlModel('persistence'), { maxDelayMs: 0 }), rows);
  const daily = await stream(new Engine(controlModel('persistence'), { maxDelayMs: 0, scoring: { weekWeight: 0 } }), rows);
  t.equal(starts(dayOf(daily, skip)), 0, 'the daily profile has seen flat noons (weekends): it cannot tell');
  t.ok(starts(dayOf(weekly, skip)) >= 1, 'the week profile sees a Wednesday without its peak');
  const first = dayOf(weekly, skip).findIndex((r) => r.episode?.state === 'start');
  const hour = (first * STEP) / HOUR;
  t.ok(hour > 8 && hour < 16, `while the peak should be there (${hour.toFixed(2)} h)`);
  t.equal(starts(weekly.slice(3 * PER_WEEK, skip * PER_DAY)), 0, 'the normal days of the fourth and fifth weeks: no alarm');
  t.equal(starts(weekly.slice((skip + 1) * PER_DAY)), 0, 'nor the days after it (the peakless day was not learned)');
});

t.test('the week profile is part of the device state: a snapshot restored mid-stream gives the same results', async (t) => {
  const whole = await stream(new Engine(controlModel('persistence'), { maxDelayMs: 0 }), rows);
  const dir = tempDir();
  const a = new Engine(controlModel('persistence'), { maxDelayMs: 0 });
  const cut = 4 * PER_WEEK + 17;
  const firstPart = await stream(a, rows.slice(0, cut));
  await a.saveState(join(dir, 's.bin'));
  const b = new Engine(controlModel('persistence'), { maxDelayMs: 0 });
  t.equal(await b.loadState(join(dir, 's.bin')), 1);
  const rest = await stream(b, rows.slice(cut), cut);
  t.ok(whole.slice(cut).some((r) => r.episode !== null), 'the part after the cut has an episode to compare');
  t.same([...firstPart, ...rest].map((r) => [r.likelihood, r.anomaly, r.episode?.state ?? null]), whole.map((r) => [r.likelihood, r.anomaly, r.episode?.state ?? null]));
});

t.test('devices in one store keep their own week profiles', async (t) => {
  // Device b reads the flat weekend level all week: device a's profile is not b's.
  const e = new Engine(controlModel('persistence'), { maxDelayMs: 0 });
  const outA: Result[] = [];
  for (let i = 0; i < rows.length; i++) {
    outA.push(await e.push({ device: 'a', ts: i * STEP, values: [rows[i]!] }));
    await e.push({ device: 'b', ts: i * STEP, values: [20 + 0.5 * Math.sin(i * 1.7) + 0.3 * Math.sin(i * 4.1)] });
  }
  const alone = await stream(new Engine(controlModel('persistence'), { maxDelayMs: 0 }), rows);
  t.same(outA.map((r) => r.likelihood), alone.map((r) => r.likelihood));
});
