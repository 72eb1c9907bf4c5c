/**
 * The detector: turns a device's forecast errors and readings into one
 * anomaly likelihood in [0, 1], names the features behind it, and keeps
 * episodes (one alarm per anomalous stretch, not one per reading).
 *
 * Per feature, these signals, each against that feature's own normal:
 * - forecast error over the feature's mean absolute error (so a noisy channel
 *   is measured against its own noise and cannot drown a clean one), short-
 *   term average against its long-term distribution, as in Numenta's anomaly
 *   likelihood (Ahmad et al. 2017); the naive forecast's likewise, averaged in;
 * - range novelty: a value outside the range seen in normal operation, which
 *   a forecaster forgives (it follows a level shift or a drift within a few
 *   readings, the range does not);
 * - stuck: one value repeated far longer than the feature ever repeated one;
 * - the time-of-day profile (season-profile.ts): the reading against its
 *   hour's usual value;
 * - relations (relations.ts): the feature against the partners it normally
 *   moves with.
 * The device's likelihood is the largest of its features'. While an episode
 * is open nothing of the normal is learned (error scale, distribution, range,
 * repeat runs, profile, relations): an ongoing fault is measured against the
 * device's normal, never absorbed into it. An episode ends when the recent
 * errors are plain again (calmZ over calmWindow readings) and every feature
 * is back near its level before the episode; one that has lasted
 * `relearnAfter` readings and `relearnAfterMs` of device time is taken as the
 * new normal.
 *
 * State lives in the store's Float64 aux row (scoringWidth(T): DEVICE_WIDTH + T * FEATURE_WIDTH + the pairs
 * values from `off`), so snapshots and the journal carry it; nothing is
 * allocated per reading.
 */
import { distributionNines, foldDistribution } from './running-distribution';
import { ninesToLikelihood } from './surprise';
import type { ScoringOptions } from './scoring-options';
import { learnRelationError, learnRelations, relationError, relationEvidence, RELATION_FEATURE_WIDTH, RELATION_MAX_TARGETS, relationWidth, standardize } from './relations';
import { learnProfileError, learnSeason, learnSeasonBin, profileErrorEvidence, PROFILE_ERROR_WIDTH, SEASON_DEVICE_WIDTH, SEASON_FEATURE_WIDTH, SeasonEvidence, seasonBin, seasonDays, seasonEvidence } from './season-profile';
import { learnWeek, learnWeekBin, WEEK_DEVICE_WIDTH, WEEK_FEATURE_WIDTH, weekBin, weekDev, weekMean, weekWeeks } from './week-profile';

// Device record.
const ACTIVE = 0;
const START_TS = 1;
const READINGS = 2;
const PEAK = 3;
const CALM = 4;
const MASK = 5;
const FIRST_TS = 6;
const SEEN = 7;
/** Readings since an episode ended while its smoothed evidence stays high (calmZ): not learned, up to tailLearn. */
const TAIL = 8;
/** The time-of-day profile's device block (season-profile.ts). */
const SEASON = 9;
/** The week profile's device block (week-profile.ts). */
const WEEK = SEASON + SEASON_DEVICE_WIDTH;
export const DEVICE_WIDTH = WEEK + WEEK_DEVICE_WIDTH;

// Feature record, after the device record.
const N = 0;
const SCALE = 1;
const SHORT = 2;
const LONG_MEAN = 3;
const LONG_VAR = 4;
const MIN = 5;
const MAX = 6;
const LAST = 7;
const RUN = 8;
const MAX_RUN = 9;
const LEVEL_MEAN = 10;
const LEVEL_VAR = 11;
const REPEATS = 12;
// The naive forecast's (next = last) error, scored like the model's: evidence both forecasters share.
const NAIVE_SCALE = 13;
const NAIVE_SHORT = 14;
const NAIVE_LONG_MEAN = 15;
const NAIVE_LONG_VAR = 16;
const PREV = 17;
/** The recent scaled error (mean over about calmWindow readings of the larger of the model's and the profile's): what calms an episode. */
const FAST = 18;
const FAST_MEAN = 19;
const FAST_VAR = 20;
/** The feature's relation error (relations.ts), scored like the forecasts' errors. */
const REL = 21;
/** The feature's time-of-day profile (season-profile.ts). */
const SEASON_F = REL + RELATION_FEATURE_WIDTH;
/** The feature's week profile (week-profile.ts). */
const WEEK_F = SEASON_F + SEASON_FEATURE_WIDTH;
/** The statistics of the week profile's error (season-profile.ts's profileErrorEvidence). */
const WEEK_ERR = WEEK_F + WEEK_FEATURE_WIDTH;
export const FEATURE_WIDTH = WEEK_ERR + PROFILE_ERROR_WIDTH;

export function scoringWidth(targets: number): number {
  return DEVICE_WIDTH + targets * FEATURE_WIDTH + relationWidth(targets);
}

/** Features named in the anomalous mask: at most this many (a float64 holds 53 bits exactly). */
export const MASK_FEATURES = 52;

export const enum EpisodeEvent {
  None = 0,
  Start = 1,
  End = 2,
}

/** What one reading gave; one instance is reused for every reading. */
export class ReadingScore {
  /** Largest per-feature likelihood, NaN when there was no forecast. */
  likelihood = NaN;
  /** Largest per-feature scaled error (|error| / mean absolute error), NaN without a forecast. */
  score = NaN;
  /** Bit t set: target t is anomalous at this reading (in an episode: every feature involved so far). */
  mask = 0;
  anomaly = false;
  event: EpisodeEvent = EpisodeEvent.None;
  /** Of the episode (open, or just ended): its start, readings, peak likelihood. */
  episodeStart = 0;
  episodeReadings = 0;
  episodePeak = 0;
}

export interface ScoreInput {
  /** The reading (all features) and where each target sits in it. */
  readonly values: ArrayLike<number>;
  readonly targetIndex: readonly number[];
  /** The forecast made at the previous reading, per target, at `expectedOff` in `expected`; null for a device's first reading. */
  readonly expected: ArrayLike<number> | null;
  readonly expectedOff: number;
  /**
   * With a variance head: the forecast's predicted standard deviation (original units) per target at
   * `sigmaOff`, by which each forecast error is divided (to the power `varianceWeight`); null without.
   */
  readonly sigma?: ArrayLike<number> | null;
  readonly sigmaOff?: number;
  readonly ts: number;
  /** Readings of this device before this one. */
  readonly steps: number;
  /** Learning period: the first `warmup` readings, and (when > 0) the first `warmupMs` of the device's time. */
  readonly warmup: number;
  readonly warmupMs: number;
}

/**
 * Scores one reading of one device and folds it into the device's record
 * `a[off ..]`. In the learning period statistics are built and no alarm is
 * raised. Returns whether the reading was in the learning period.
 */
export function scoreReading(o: ScoringOptions, threshold: number, a: Float64Array, off: number, T: number, inp: ScoreInput, out: ReadingScore): boolean {
  if (a[off + SEEN] === 0) a[off + FIRST_TS] = inp.ts;
  a[off + SEEN] = a[off + SEEN]! + 1;
  const isLearning = inp.steps < inp.warmup || (inp.warmupMs > 0 && inp.ts - a[off + FIRST_TS]! < inp.warmupMs);
  const active = a[off + ACTIVE] === 1;
  out.event = EpisodeEvent.None;
  let lik = NaN;
  let score = NaN;
  let mask = 0;
  let departed = false;
  // Whether this reading on its own looks normal (calmZ > 0): every feature's error plain, nothing new or stuck.
  let plain = true;
  const exp = inp.expected;
  const bin = o.seasonWeight > 0 ? seasonBin(inp.ts) : 0;
  const weekly = o.seasonWeight > 0 && o.weekWeight > 0;
  const wbin = weekly ? weekBin(inp.ts) : 0;
  const weekReady = weekly && weekWeeks(a, off + WEEK, wbin) >= o.weekProfileWeeks;
  // Relations between the targets: every target's standardized value first (against its level before any episode).
  const pairs = off + DEVICE_WIDTH + T * FEATURE_WIDTH;
  const related = o.relationWeight > 0 && relationWidth(T) > 0;
  if (related) {
    for (let t = 0; t < T; t++) {
      const f = off + DEVICE_WIDTH + t * FEATURE_WIDTH;
      HAS_REL[t] = 0;
      ZS[t] = standardize(inp.values[inp.targetIndex[t]!]!, a[f + LEVEL_MEAN]!, a[f + LEVEL_VAR]!);
    }
  }
  for (let t = 0; t < T; t++) {
    const f = off + DEVICE_WIDTH + t * FEATURE_WIDTH;
    const v = inp.values[inp.targetIndex[t]!]!;
    // Repeat runs and the range are tracked from the first reading; errors from the first forecast.
    const run = inp.steps > 0 && v === a[f + LAST] ? a[f + RUN]! + 1 : 0;
    // A run is learned when it ends, outside episodes: an ongoing stuck value never raises its own bar.
    if (run === 0 && !active && a[f + RUN]! > a[f + MAX_RUN]!) a[f + MAX_RUN] = a[f + RUN]!;
    a[f + RUN] = run;
    a[f + PREV] = a[f + LAST]!;
    a[f + LAST] = v;
    let lf = NaN;
    let nines = NaN;
    if (exp !== null) {
      const n = a[f + N]!;
      const err = forecastError(o, inp, exp, t, v);
      const z = n > 0 ? Math.min(err / (a[f + SCALE]! + 1e-12), o.zCap) : 0;
      const sw = Math.min(n + 1, o.shortWindow);
      const short = a[f + SHORT]! + (z - a[f + SHORT]!) / sw;
      a[f + SHORT] = short;
      // Evidence in nines (-log10 of a tail probability), so strong and overwhelming evidence stay apart.
      nines = n >= 1 ? distributionNines(a, f + LONG_MEAN, f + LONG_VAR, short, o.minStd) : LOG10_2;
      if (o.naiveWeight > 0) {
        const zn = n > 0 ? Math.min(Math.abs(v - a[f + PREV]!) / (a[f + NAIVE_SCALE]! + 1e-12), o.zCap) : 0;
        const shortN = a[f + NAIVE_SHORT]! + (zn - a[f + NAIVE_SHORT]!) / sw;
        a[f + NAIVE_SHORT] = shortN;
        const ninesN = n >= 1 ? distributionNines(a, f + NAIVE_LONG_MEAN, f + NAIVE_LONG_VAR, shortN, o.minStd) : LOG10_2;
        // A weighted mean of nines is a weighted geometric mean of the two tail probabilities: a reading
        // one forecaster explains away (a noisy model step, a random walk's jump) counts for less.
        nines = (1 - o.naiveWeight) * nines + o.naiveWeight * ninesN;
      }
      if (!(z <= score)) score = z;
      let zc = z;
      if (o.seasonWeight > 0) {
        seasonEvidence(o, a, f + SEASON_F, v, bin, seasonDays(a, off + SEASON, bin), SEASON_OUT);
        if (SEASON_OUT.z > zc) zc = SEASON_OUT.z;
        // The larger of the two, the profile's less its weight: a reading the forecasters find plausible can
        // still be far from what this hour usually reads.
        if (SEASON_OUT.nines - o.seasonWeight > nines) nines = SEASON_OUT.nines - o.seasonWeight;
        if (weekly) {
          // The same for the bin of the week, once in use (its error has its own distribution: a week's
          // rhythm is tighter than the day's, whose history mixes workdays and weekends).
          const wf = f + WEEK_F;
          const wz = weekReady ? Math.min(Math.abs(v - weekMean(a, wf, wbin)) / (weekDev(a, wf, wbin) + 1e-12), o.zCap) : 0;
          profileErrorEvidence(o, a, f + WEEK_ERR, wz, weekReady, SEASON_OUT);
          if (SEASON_OUT.z > zc) zc = SEASON_OUT.z;
          if (SEASON_OUT.nines - o.weekWeight > nines) nines = SEASON_OUT.nines - o.weekWeight;
        }
      }
      if (related && inp.steps >= o.noveltyAfter) {
        const e = relationError(a, pairs, T, t, ZS, o.minCorrelation);
        HAS_REL[t] = Number.isNaN(e) ? 0 : 1;
        // A relation still broken keeps an episode open (its errors are not in the calm statistics: they would widen them).
        const nr = Number.isNaN(e) ? NaN : relationEvidence(o, a, f + REL, e);
        if (nr >= releaseNines(o.release)) plain = false;
        if (nr - o.relationWeight > nines) nines = nr - o.relationWeight;
      }
      const fast = a[f + FAST]! + (zc - a[f + FAST]!) / o.calmWindow;
      a[f + FAST] = fast;
      if (o.calmZ > 0 && (a[f + N]! < 2 ? fast > o.calmZ : (fast - a[f + FAST_MEAN]!) / Math.max(Math.sqrt(a[f + FAST_VAR]!), o.minStd) > o.calmZ)) plain = false;
    }
    if (!isLearning) {
      if (o.noveltyMargin >= 0 && inp.steps >= o.noveltyAfter) {
        const excess = novelty(v, a[f + MIN]!, a[f + MAX]!, o.noveltyMargin);
        if (excess >= 0) {
          nines = Math.max(nines, o.noveltyNines + o.noveltyGain * excess);
          plain = false;
        }
      }
      // Only a sensor that rarely repeats a value exactly can be seen stuck (a counter at 0 repeats all day):
      // REPEATS is the rate at which runs of repeats begin, so a stuck run does not raise it.
      // A value repeating longer than the feature ever repeated one is not a plain reading (it may be getting stuck).
      if (run >= 3 && run > 2 * a[f + MAX_RUN]! && a[f + REPEATS]! < 0.01) plain = false;
      if (o.stuckReadings > 0 && run >= o.stuckReadings && run > 2 * a[f + MAX_RUN]! && a[f + REPEATS]! < 0.01) {
        nines = Math.max(nines, o.stuckNines);
        plain = false;
      }
    }
    if (!Number.isNaN(nines)) lf = ninesToLikelihood(nines);
    // Held open while any feature stays away from the level it had before the episode.
    if (active && o.levelK > 0 && Math.abs(v - a[f + LEVEL_MEAN]!) > o.levelK * Math.sqrt(a[f + LEVEL_VAR]!)) departed = true;
    if (!Number.isNaN(lf)) {
      if (!(lf <= lik)) lik = lf;
      if (lf >= threshold && t < MASK_FEATURES) mask += 2 ** t;
    }
  }

  // Episodes: open at the threshold, close after calmReadings calm readings (see ScoringOptions.calmZ).
  let anomaly = false;
  let suppressed = false;
  if (!isLearning && !Number.isNaN(lik)) {
    if (!active) {
      // Refractory readings after an episode (CALM counts up from -refractory): only stronger evidence than its peak opens another.
      const quiet = a[off + CALM]! < 0;
      // With calmZ the episode may end while the smoothed evidence is still high: the quiet time counts from when it fell.
      if (quiet && (o.calmZ === 0 || lik < o.release)) a[off + CALM] = a[off + CALM]! + 1;
      // The smoothed evidence of the event that just ended may still be rising: it raises that event's peak rather than open another.
      if (quiet && o.calmZ > 0 && lik >= o.release && lik >= threshold && a[off + CALM]! === -o.refractory && lik > a[off + PEAK]!) {
        a[off + PEAK] = lik;
        suppressed = true;
      }
      if (quiet && lik >= threshold && !(lik > a[off + PEAK]!)) suppressed = true;
      else if (lik >= threshold) {
        a[off + ACTIVE] = 1;
        a[off + START_TS] = inp.ts;
        a[off + READINGS] = 1;
        a[off + PEAK] = lik;
        a[off + CALM] = 0;
        a[off + MASK] = mask;
        out.event = EpisodeEvent.Start;
        anomaly = true;
      }
    } else {
      const readings = a[off + READINGS]! + 1;
      a[off + READINGS] = readings;
      if (lik > a[off + PEAK]!) a[off + PEAK] = lik;
      a[off + MASK] = orMask(a[off + MASK]!, mask);
      const calm = o.calmZ > 0 ? plain : lik < o.release;
      a[off + CALM] = calm && !departed ? a[off + CALM]! + 1 : 0;
      // Taken as the new normal once it has lasted both so many readings and so long (device time).
      const relearn = o.relearnAfter > 0 && readings >= o.relearnAfter && inp.ts - a[off + START_TS]! >= o.relearnAfterMs;
      if (a[off + CALM]! >= o.calmReadings || relearn) {
        a[off + ACTIVE] = 0;
        a[off + CALM] = -o.refractory;
        out.event = EpisodeEvent.End;
      } else anomaly = true;
    }
  } else if (active) {
    // A learning period restarted under an open episode (by duration): close it.
    a[off + ACTIVE] = 0;
    out.event = EpisodeEvent.End;
  }
  out.episodeStart = a[off + START_TS]!;
  out.episodeReadings = a[off + READINGS]!;
  out.episodePeak = a[off + PEAK]!;

  for (let t = 0; t < T; t++) {
    // The range is an onset signal: it takes in every reading after the learning period (a departure
    // alarms once), and in it only those the forecaster found plausible (a spike there must not widen it).
    const f = off + DEVICE_WIDTH + t * FEATURE_WIDTH;
    const v = a[f + LAST]!;
    if (isLearning && exp !== null && a[f + N]! > 0 && forecastError(o, inp, exp, t, v) >= o.zCap * a[f + SCALE]!) continue;
    if (inp.steps === 0 || v < a[f + MIN]!) a[f + MIN] = v;
    if (inp.steps === 0 || v > a[f + MAX]!) a[f + MAX] = v;
  }
  // Learn the normal only outside episodes (the reading that ends one is normal again).
  let learn = a[off + ACTIVE] === 0;
  if (learn && o.calmZ > 0 && o.tailLearn > 0) {
    if (out.event === EpisodeEvent.End) a[off + TAIL] = 1;
    else if (a[off + TAIL]! > 0) a[off + TAIL] = lik >= o.release && a[off + TAIL]! < o.tailLearn ? a[off + TAIL]! + 1 : 0;
    if (a[off + TAIL]! > 0) learn = false;
  }
  if (learn) {
    const binReadings = o.seasonWeight > 0 && exp !== null ? learnSeasonBin(a, off + SEASON, bin, inp.ts) : 0;
    const weekReadings = weekly && exp !== null ? learnWeekBin(o, a, off + WEEK, wbin, inp.ts) : 0;
    if (related) learnRelations(a, pairs, T, ZS, a[off + SEEN]!, o.levelWindow);
    for (let t = 0; t < T; t++) {
      const f = off + DEVICE_WIDTH + t * FEATURE_WIDTH;
      const v = a[f + LAST]!;
      a[f + REPEATS] = a[f + REPEATS]! + ((a[f + RUN] === 1 ? 1 : 0) - a[f + REPEATS]!) / Math.min(a[off + SEEN]!, o.errorWindow);
      const m = Math.min(a[off + SEEN]!, o.levelWindow);
      const d = v - a[f + LEVEL_MEAN]!;
      a[f + LEVEL_MEAN] = a[f + LEVEL_MEAN]! + d / m;
      a[f + LEVEL_VAR] = (1 - 1 / m) * (a[f + LEVEL_VAR]! + (d * d) / m);
      if (exp === null) continue;
      const n = a[f + N]! + 1;
      const err = forecastError(o, inp, exp, t, v);
      a[f + SCALE] = a[f + SCALE]! + (err - a[f + SCALE]!) / Math.min(n, o.errorWindow);
      // West's incremental mean and variance of the short-term view; a plain average until longWindow readings.
      const alpha = 1 / Math.min(n, o.longWindow);
      foldDistribution(a, f + LONG_MEAN, f + LONG_VAR, a[f + SHORT]!, alpha);
      foldDistribution(a, f + FAST_MEAN, f + FAST_VAR, a[f + FAST]!, alpha);
      if (o.naiveWeight > 0) {
        a[f + NAIVE_SCALE] = a[f + NAIVE_SCALE]! + (Math.abs(v - a[f + PREV]!) - a[f + NAIVE_SCALE]!) / Math.min(n, o.errorWindow);
        foldDistribution(a, f + NAIVE_LONG_MEAN, f + NAIVE_LONG_VAR, a[f + NAIVE_SHORT]!, alpha);
      }
      a[f + N] = n;
      if (related && inp.steps >= o.noveltyAfter && HAS_REL[t] === 1) learnRelationError(o, a, f + REL);
      if (binReadings > 0) learnSeason(o, a, f + SEASON_F, v, bin, binReadings, seasonDays(a, off + SEASON, bin));
      if (weekReadings > 0) {
        if (weekReady) learnProfileError(o, a, f + WEEK_ERR);
        learnWeek(a, f + WEEK_F, v, wbin, weekReadings);
      }
    }
  }
  // Inside an episode the published likelihood stays below the alarm level: it crosses the threshold once per episode.
  // (The reading that ends one too: calmed by its recent errors, its smoothed evidence may still be high.)
  out.likelihood = ((anomaly && out.event !== EpisodeEvent.Start) || suppressed || out.event === EpisodeEvent.End) && lik > o.holdLevel ? o.holdLevel : lik;
  out.score = score;
  out.anomaly = anomaly;
  out.mask = anomaly || out.event === EpisodeEvent.End ? a[off + MASK]! : mask;
  return isLearning;
}

const LOG10_2 = Math.log10(2);

/**
 * The model's absolute forecast error for target t; with a predicted standard deviation, in units of it
 * (to the power varianceWeight): an error the model expected (a noisy regime) counts less than the same
 * error where it was sure. The error scale and its distribution then live in those units.
 */
function forecastError(o: ScoringOptions, inp: ScoreInput, exp: ArrayLike<number>, t: number, v: number): number {
  const err = Math.abs(v - exp[inp.expectedOff + t]!);
  const sigma = inp.sigma;
  if (sigma === null || sigma === undefined || o.varianceWeight === 0) return err;
  const s = sigma[(inp.sigmaOff ?? 0) + t]!;
  return s > 0 ? err / (o.varianceWeight === 1 ? s : s ** o.varianceWeight) : err;
}
/** -log10(1 - release), kept for the last `release` seen (the options change only on a reload). */
let releaseOf = NaN;
let releaseNinesOf = NaN;
function releaseNines(release: number): number {
  if (release !== releaseOf) {
    releaseOf = release;
    releaseNinesOf = -Math.log10(1 - release);
  }
  return releaseNinesOf;
}
const SEASON_OUT = new SeasonEvidence();
/** Every target's standardized value at this reading (relations). */
const ZS = new Float64Array(RELATION_MAX_TARGETS);
/** Whether a target had related partners at this reading (its relation error is learned only then). */
const HAS_REL = new Uint8Array(RELATION_MAX_TARGETS);


/**
 * How far `v` lies outside the range seen (beyond the margin), in units of
 * that range; negative inside it. A flat history has no range to take a
 * margin of: any other value is new, by 0.
 */
function novelty(v: number, min: number, max: number, margin: number): number {
  const range = max - min;
  if (!(range > 0)) return v !== max ? 0 : -1;
  return Math.max(v - max, min - v) / range - margin;
}

function orMask(a: number, b: number): number {
  if (b === 0) return a;
  let r = a;
  for (let t = 0; t < MASK_FEATURES && b > 0; t++) {
    const bit = 2 ** t;
    if (b % (2 * bit) >= bit) {
      if (r % (2 * bit) < bit) r += bit;
      b -= bit;
    }
  }
  return r;
}

/** The names of the features set in `mask`. */
export function maskNames(mask: number, names: readonly string[]): string[] {
  const out: string[] = [];
  for (let t = 0; t < names.length && t < MASK_FEATURES && mask > 0; t++) {
    const bit = 2 ** t;
    if (mask % (2 * bit) >= bit) {
      out.push(names[t]!);
      mask -= bit;
    }
  }
  return out;
}
