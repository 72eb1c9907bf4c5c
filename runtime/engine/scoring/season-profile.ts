/**
 * The time-of-day profile of a device: per hour of the (UTC) day, each
 * feature's usual value and spread, learned outside episodes. A reading far
 * from its hour's usual value (a daily peak that does not come, a night-time
 * level at noon) is evidence even when the forecasters follow it step by
 * step. Its error against the hour's mean, over the hour's mean absolute
 * deviation, is scored like the forecasts' errors: a short-term average
 * against its long-term distribution, in nines.
 *
 * Lives in the device's aux row beside the detector's other statistics: a
 * device block (per hour: readings learned, the last day learned, the days
 * seen; shared by the features, which arrive together) and a block per
 * feature. Nothing is allocated per reading.
 */
import { distributionNines, foldDistribution } from './running-distribution';
import type { ScoringOptions } from './scoring-options';

/** Bins of the day: an hour each. */
export const SEASON_BINS = 24;
const DAY_MS = 86_400_000;

// Device block: per hour (interleaved, so that a reading touches one cache line of it), the hour's
// readings, the last day learned, the days seen; slot of hour b: b * DEVICE_STRIDE + field.
const COUNT = 0;
const DAY = 1;
const DAYS = 2;
const DEVICE_STRIDE = 3;
export const SEASON_DEVICE_WIDTH = DEVICE_STRIDE * SEASON_BINS;

// Feature block: the error statistics, then per hour (interleaved likewise) mean and deviation.
const SHORT = 0;
const LONG_MEAN = 1;
const LONG_VAR = 2;
const N = 3;
const HOURS = 4;
const MEAN = 0;
const DEV = 1;
const FEATURE_STRIDE = 2;
export const SEASON_FEATURE_WIDTH = HOURS + FEATURE_STRIDE * SEASON_BINS;

/** The hour of the (UTC) day a reading at `ts` falls in. */
export function seasonBin(ts: number): number {
  const t = ts % DAY_MS;
  return Math.min(SEASON_BINS - 1, Math.floor(((t < 0 ? t + DAY_MS : t) / DAY_MS) * SEASON_BINS));
}

/** Days the hour `b` has been seen in (device block at `d`). */
export function seasonDays(a: Float64Array, d: number, b: number): number {
  return a[d + b * DEVICE_STRIDE + DAYS]!;
}

/** What one reading of one feature gave against the profile; one instance is reused. */
export class SeasonEvidence {
  /** Scaled error against the hour's mean (0 while the hour is not yet in use). */
  z = 0;
  /** Evidence in nines; NaN while the hour or the distribution is not yet in use. */
  nines = NaN;
}

/** Scores value `v` of the feature block at `f` against hour `b` (in use once seen on `seasonDays` days). */
export function seasonEvidence(o: ScoringOptions, a: Float64Array, f: number, v: number, b: number, days: number, out: SeasonEvidence): void {
  const ready = days >= o.seasonDays;
  const h = f + HOURS + b * FEATURE_STRIDE;
  const z = ready ? Math.min(Math.abs(v - a[h + MEAN]!) / (a[h + DEV]! + 1e-12), o.zCap) : 0;
  profileErrorEvidence(o, a, f, z, ready, out);
}

/** Slots of a profile's error statistics (short-term view, its long-term mean and variance, readings learned). */
export const PROFILE_ERROR_WIDTH = 4;

/** Scores a profile's scaled error `z` with the error statistics at `s` (a feature block's first slots, or a block of PROFILE_ERROR_WIDTH). */
export function profileErrorEvidence(o: ScoringOptions, a: Float64Array, s: number, z: number, ready: boolean, out: SeasonEvidence): void {
  const n = a[s + N]!;
  const short = a[s + SHORT]! + (z - a[s + SHORT]!) / Math.min(n + 1, o.shortWindow);
  a[s + SHORT] = short;
  out.z = z;
  out.nines = ready && n >= 1 ? distributionNines(a, s + LONG_MEAN, s + LONG_VAR, short, o.minStd) : NaN;
}

/** Learns the short-term view at `s` into its long-term distribution (a normal reading of a profile in use). */
export function learnProfileError(o: ScoringOptions, a: Float64Array, s: number): void {
  const n = a[s + N]! + 1;
  foldDistribution(a, s + LONG_MEAN, s + LONG_VAR, a[s + SHORT]!, 1 / Math.min(n, o.longWindow));
  a[s + N] = n;
}

/** Counts a normal reading into its hour (device block at `d`; the day into the hour's days); returns the hour's readings. */
export function learnSeasonBin(a: Float64Array, d: number, b: number, ts: number): number {
  const day = Math.floor(ts / DAY_MS);
  const h = d + b * DEVICE_STRIDE;
  if (a[h + COUNT] === 0 || a[h + DAY] !== day) {
    a[h + DAY] = day;
    a[h + DAYS] = a[h + DAYS]! + 1;
  }
  const c = a[h + COUNT]! + 1;
  a[h + COUNT] = c;
  return c;
}

/** Folds a feature's normal reading into its hour's mean and deviation, and the profile's error into its distribution. */
export function learnSeason(o: ScoringOptions, a: Float64Array, f: number, v: number, b: number, readings: number, days: number): void {
  // The profile's error is learned once the hour is in use.
  if (days > o.seasonDays) learnProfileError(o, a, f);
  const k = 1 / Math.min(readings, o.seasonWindow);
  const h = f + HOURS + b * FEATURE_STRIDE;
  a[h + MEAN] = a[h + MEAN]! + k * (v - a[h + MEAN]!);
  a[h + DEV] = a[h + DEV]! + k * (Math.abs(v - a[h + MEAN]!) - a[h + DEV]!);
}
