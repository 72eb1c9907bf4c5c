/**
 * The week profile of a device: per 4 hours of the (UTC) week, each
 * feature's usual value and spread, learned outside episodes. A Monday that
 * reads like a Sunday, a holiday that falls on a weekday, a weekly batch job
 * that does not run: the time-of-day profile (season-profile.ts) cannot tell
 * them from normal, because every day of its history mixes workdays and
 * weekends. Once a bin of the week has been seen on `weekProfileWeeks`
 * weeks, the reading's error against it is evidence beside the daily
 * profile's (scored alike, with its own distribution).
 *
 * Stored compactly, so that a device's whole record stays small:
 * each Float64 slot of the aux row holds two float32 halves (a Float32Array
 * view over the same buffer). A device block (per bin: readings learned; the
 * last week learned and the weeks seen, packed as week * 8 + min(weeks, 7))
 * and a block per feature (per bin: mean, mean absolute deviation). Only
 * finite float32 values are stored, so a slot is never a float64 NaN and
 * survives any copy of the row (snapshots, the journal) bit for bit.
 * Nothing is allocated per reading (the view is made once per buffer).
 */
import type { ScoringOptions } from './scoring-options';

/**
 * Bins of the week: 4 hours each. NAB tuning half, likelihood swept: 42 bins 73.25 (weight 3) and 71.31
 * (weight 4); at weight 4, 56 bins 70.87, 84 70.57, 168 71.19 (runtime/eval/PROTOCOL.md).
 */
export const WEEK_BINS = 42;
const WEEK_MS = 7 * 86_400_000;
/** The last week learned is kept modulo this (only whether it changed matters), so its tag is exact in float32. */
const WEEK_TAGS = 1 << 20;
const F32_MAX = 3.4e38;
/** Weeks seen are counted up to this (all that `weekProfileWeeks` may ask for). */
export const MAX_WEEKS = 7;

export const WEEK_DEVICE_WIDTH = WEEK_BINS;
export const WEEK_FEATURE_WIDTH = WEEK_BINS;

let view: Float32Array = new Float32Array(0);
/** The row `view` was made for, and its first half's index in `view`: compared by identity (reading `a.buffer` per access costs more). */
let viewRow: Float64Array | null = null;
let viewHalves = 0;

/** Makes `view` the float32 view over `a`'s buffer (call before reading `view`); slot `i`'s first half is at halves(a) + 2 * i. */
function halves(a: Float64Array): number {
  if (viewRow !== a) {
    if (viewRow === null || view.buffer !== a.buffer) view = new Float32Array(a.buffer);
    viewRow = a;
    viewHalves = a.byteOffset / 4;
  }
  return viewHalves;
}

/** The bin of the (UTC) week a reading at `ts` falls in. */
export function weekBin(ts: number): number {
  const t = ts % WEEK_MS;
  return Math.min(WEEK_BINS - 1, Math.floor(((t < 0 ? t + WEEK_MS : t) / WEEK_MS) * WEEK_BINS));
}

/** Weeks the bin `b` has been learned in (device block at `d`), up to MAX_WEEKS. */
export function weekWeeks(a: Float64Array, d: number, b: number): number {
  const h = halves(a);
  const tag = view[h + 2 * (d + b) + 1]!;
  return tag - 8 * Math.floor(tag / 8);
}

/** The bin's usual value of the feature block at `f`. */
export function weekMean(a: Float64Array, f: number, b: number): number {
  const h = halves(a);
  return view[h + 2 * (f + b)]!;
}

/** The bin's mean absolute deviation of the feature block at `f`. */
export function weekDev(a: Float64Array, f: number, b: number): number {
  const h = halves(a);
  return view[h + 2 * (f + b) + 1]!;
}

/** Counts a normal reading into its bin (device block at `d`; the week into the bin's weeks); returns the bin's readings. */
export function learnWeekBin(o: ScoringOptions, a: Float64Array, d: number, b: number, ts: number): number {
  const i = halves(a) + 2 * (d + b);
  const w = Math.floor(ts / WEEK_MS);
  const week = w - WEEK_TAGS * Math.floor(w / WEEK_TAGS);
  const c = view[i]!;
  const tag = view[i + 1]!;
  const weeks = tag - 8 * Math.floor(tag / 8);
  if (c === 0 || Math.floor(tag / 8) !== week) view[i + 1] = week * 8 + Math.min(weeks + 1, MAX_WEEKS);
  // Counted up to the window: past it the bin's statistics weigh readings alike, and float32 counts stay exact.
  const n = Math.min(c + 1, o.seasonWindow);
  view[i] = n;
  return n;
}

/** Folds a feature's normal reading into its bin's mean and deviation (`readings` from learnWeekBin). */
export function learnWeek(a: Float64Array, f: number, v: number, b: number, readings: number): void {
  const i = halves(a) + 2 * (f + b);
  const k = 1 / readings;
  // Clamped to float32's range: an infinite half would make the next update NaN.
  const m = clampF32(view[i]! + k * (v - view[i]!));
  view[i] = m;
  view[i + 1] = clampF32(view[i + 1]! + k * (Math.abs(v - m) - view[i + 1]!));
}

function clampF32(x: number): number {
  return x > F32_MAX ? F32_MAX : x < -F32_MAX ? -F32_MAX : x;
}
