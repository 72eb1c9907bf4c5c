import t from 'tap';
import { join } from 'node:path';
import { Engine } from '../../../runtime/engine/engine';
import type { Result } from '../../../runtime/engine/sample';
import { SEASON_BINS, seasonBin } from '../../../runtime/engine/scoring/season-profile';
import { controlModel } from '../../../runtime/eval/control-models';
import { tempDir } from '../../helpers/models';

// The time-of-day profile and episodes calmed by the recent errors (runtime/engine/scoring).
const HOUR = 3_600_000;
const STEP = 5 * 60_000; // NAB's usual 5 minutes: 288 readings a day
const PER_DAY = (24 * HOUR) / STEP;

/** A daily cycle with a little deterministic noise: a peak at noon, flat at night. */
function daily(i: number): number {
  const h = ((i * STEP) % (24 * HOUR)) / HOUR;
  return 20 + (h > 8 && h < 16 ? 30 * Math.sin(((h - 8) / 8) * Math.PI) : 0) + 0.5 * Math.sin(i * 1.7) + 0.3 * Math.sin(i * 4.1);
}

async function stream(engine: Engine, rows: number[], stepMs = STEP): Promise<Result[]> {
  const out: Result[] = [];
  for (let i = 0; i < rows.length; i++) out.push(await engine.push({ device: 'd', ts: i * stepMs, values: [rows[i]!] }));
  return out;
}

const starts = (rs: readonly Result[]): number => rs.filter((r) => r.episode?.state === 'start').length;

t.test('hours of the UTC day', async (t) => {
  t.equal(SEASON_BINS, 24);
  t.equal(seasonBin(0), 0);
  t.equal(seasonBin(HOUR - 1), 0);
  t.equal(seasonBin(13 * HOUR + 5), 13);
  t.equal(seasonBin(3 * 24 * HOUR + 23 * HOUR + 59 * 60_000), 23);
  t.equal(seasonBin(-1), 23, 'before 1970 too');
});

t.test('a daily peak that does not come is an anomaly: the forecasters follow the flat line, the hour does not', async (t) => {
  // Six normal days, then a day whose noon peak is missing (NAB's art_daily_flatmiddle), then a normal day.
  const days = 8;
  const missing = 6;
  const rows = Array.from({ length: days * PER_DAY }, (_, i) => (Math.floor(i / PER_DAY) === missing ? 20 + 0.5 * Math.sin(i * 1.7) + 0.3 * Math.sin(i * 4.1) : daily(i)));
  const day = (rs: Result[], d: number): Result[] => rs.slice(d * PER_DAY, (d + 1) * PER_DAY);
  const withProfile = await stream(new Engine(controlModel('persistence'), { maxDelayMs: 0 }), rows);
  t.equal(starts(day(withProfile, 5)), 0, 'a normal day: no alarm');
  t.ok(starts(day(withProfile, missing)) >= 1, 'the day without its peak alarms');
  const first = day(withProfile, missing).findIndex((r) => r.anomaly);
  const hour = (first * STEP) / HOUR;
  t.ok(hour > 8 && hour < 12, `while the peak should be rising (${hour.toFixed(2)} h)`);
  t.equal(starts(day(withProfile, 7)), 0, 'the next normal day: no alarm (the missing peak was not learned)');
  const without = await stream(new Engine(controlModel('persistence'), { maxDelayMs: 0, scoring: { seasonWeight: 0 } }), rows);
  t.equal(starts(day(without, missing)), 0, 'without the profile nothing sees it (the test would pass without the feature otherwise)');
});

t.test('the profile is part of the device state: a snapshot restored mid-stream gives the same results', async (t) => {
  const rows = Array.from({ length: 5 * PER_DAY }, (_, i) => daily(i) + (i === 4 * PER_DAY + 140 ? -25 : 0) + (Math.floor(i / PER_DAY) === 4 && i % PER_DAY > 100 && i % PER_DAY < 130 ? -20 : 0));
  const whole = await stream(new Engine(controlModel('persistence'), { maxDelayMs: 0 }), rows);
  const dir = tempDir();
  const a = new Engine(controlModel('persistence'), { maxDelayMs: 0 });
  const cut = 3 * PER_DAY + 17;
  const firstPart = await stream(a, rows.slice(0, cut));
  await a.saveState(join(dir, 's.bin'));
  const b = new Engine(controlModel('persistence'), { maxDelayMs: 0 });
  t.equal(await b.loadState(join(dir, 's.bin')), 1);
  const rest: Result[] = [];
  for (let i = cut; i < rows.length; i++) rest.push(await b.push({ device: 'd', ts: i * STEP, values: [rows[i]!] }));
  t.ok(whole.slice(cut).some((r) => r.episode !== null), 'the part after the cut has episodes to compare');
  t.same([...firstPart, ...rest].map((r) => [r.likelihood, r.anomaly, r.episode?.state ?? null]), whole.map((r) => [r.likelihood, r.anomaly, r.episode?.state ?? null]));
});

t.test('an episode ends with its errors: a spike closes within its calm window; a change of variance stays open', async (t) => {
  const wave = (i: number): number => 50 + 10 * Math.sin((2 * Math.PI * i) / 24) + 0.7 * Math.sin(i * 1.7) + 0.4 * Math.sin(i * 4.1);
  const spike = Array.from({ length: 900 }, (_, i) => wave(i) + (i === 700 ? 40 : 0));
  const rs = await stream(new Engine(controlModel('persistence'), { maxDelayMs: 0 }), spike, 1000);
  t.equal(rs[700]!.episode?.state, 'start');
  const end = rs.findIndex((r, i) => i > 700 && r.episode?.state === 'end');
  t.ok(end > 700 && end <= 700 + 15, `the spike's episode ends once its recent errors (10 readings) are plain again (at ${end})`);
  t.equal(starts(rs.slice(701, 900)), 0, 'its smoothed tail opens no second episode');
  t.ok(rs.slice(701, 900).every((r) => r.likelihood! < 0.999999999), 'and publishes no second crossing');
  const old = await stream(new Engine(controlModel('persistence'), { maxDelayMs: 0, scoring: { calmZ: 0, calmReadings: 3 } }), spike, 1000);
  const oldEnd = old.findIndex((r, i) => i > 700 && r.episode?.state === 'end');
  t.ok(oldEnd > end, `by the likelihood alone it would have lasted longer (${oldEnd} > ${end})`);
  // Noise five times larger for 200 readings: the errors stay large, the episode open.
  const noisy = Array.from({ length: 1000 }, (_, i) => wave(i) + (i >= 600 && i < 800 ? 5 * (0.7 * Math.sin(i * 1.7) + 0.4 * Math.sin(i * 4.1)) : 0));
  const vr = await stream(new Engine(controlModel('persistence'), { maxDelayMs: 0 }), noisy, 1000);
  const flagged = vr.slice(600, 800).filter((r) => r.anomaly).length;
  t.ok(flagged >= 120, `a change of variance is flagged for most of its length (${flagged} of 200)`);
  t.ok(vr.slice(850).every((r) => !r.anomaly), 'and not after it');
});
