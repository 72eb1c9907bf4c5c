/**
 * How a device's readings become an anomaly likelihood and a flag. Every
 * option is optional; defaults in SCORING_DEFAULTS, each calibrated as the
 * README's "How the detector was tuned" says (one parameter set, chosen on
 * the tuning half of NAB named in runtime/eval/PROTOCOL.md).
 */
export interface ScoringOptions {
  /** Horizon of each feature's error scale (mean absolute forecast error), in readings. Default 2000. */
  errorWindow: number;
  /** Scaled errors are capped so one wild reading cannot dominate the history. Default 10. */
  zCap: number;
  /** Readings averaged (exponentially) for the short-term view of the scaled error. Default 20. */
  shortWindow: number;
  /** Horizon of the long-term mean and variance of the short-term view, in readings. Default 2000. */
  longWindow: number;
  /** Floor on the long-term standard deviation, in scaled-error units. Default 0.05. */
  minStd: number;
  /** A value outside the range seen in normal operation (by more than this fraction of the range) is anomalous. Negative: off. Default 0.05. */
  noveltyMargin: number;
  /** Evidence of a value just outside the range (beyond the margin), in nines (-log10 of a tail probability). Default 10. */
  noveltyNines: number;
  /** Further nines per range width a value lies beyond the margin. Default 10. */
  noveltyGain: number;
  /**
   * Weight of the naive forecast's (next = last) error evidence beside the
   * model's, 0..1: the error evidence is the weighted mean of the two in
   * nines. Default 0.5 (NAB tuning half: likelihood 65.94 -> 64.31, flag
   * 43.31 -> 51.03).
   */
  naiveWeight: number;
  /**
   * The time-of-day profile: per hour of the (UTC) day, each feature's usual value and spread, learned
   * outside episodes. A reading far from its hour's usual value (a daily peak that does not come, a
   * night-time level at noon) is evidence even when both forecasters follow it. Its nines less this
   * discount count when they are the larger. 0: off. Default 2 (NAB tuning half: likelihood 64.31 -> 69.09).
   */
  seasonWeight: number;
  /** Days an hour must have been seen before its profile is used. Default 2. */
  seasonDays: number;
  /** Horizon of each hour's mean and deviation, in readings. Default 500. */
  seasonWindow: number;
  /**
   * The week profile (week-profile.ts: 42 bins of 4 hours): per bin of the (UTC) week, each
   * feature's usual value and spread, learned outside episodes; a reading far from it (a weekday that
   * reads like a Sunday, a holiday) is evidence the time-of-day profile cannot give, since its history
   * mixes workdays and weekends. Its error is scored like the daily profile's, with its own distribution;
   * its nines less this discount count when they are the larger. 0: off. Default 3 (NAB tuning half:
   * likelihood 68.36 -> 73.25, flag 62.59 -> 63.89; runtime/eval/PROTOCOL.md rows 31-40). Needs
   * `seasonWeight` > 0.
   */
  weekWeight: number;
  /**
   * The forecast's per-device recalibration (runtime/engine/forecast-calibration.ts): the share of the
   * model's step from the last reading that the device's history supports, fitted over about this many
   * normal readings; the published `expected`/`forecast` and what is scored are the recalibrated forecast
   * (so they no longer equal the model's output). 0: off, the default. NAB, all 58 at 200: one-step MASE
   * better than persistence's on 47 of 58 files (42 off), likelihood 70.04 -> 70.44, flag 60.77 -> 60.86
   * (runtime/eval/PROTOCOL.md rows 43-44).
   */
  calibrationWindow: number;
  /**
   * With a model that predicts its variance (`y_logvar`): each forecast error is divided by the predicted
   * standard deviation to this power (0: not at all, 1: errors in predicted standard deviations) before the
   * error scale and its distribution see it. No effect on a model without a variance head. Default 0: the
   * generic recipe trained with a variance head scored lower on NAB's tuning half with it than without
   * (likelihood 65.08 at 1, 67.95 at 0.5, 71.08 at 0; runtime/eval/PROTOCOL.md row 47).
   */
  varianceWeight: number;
  /** Weeks a bin of the week must have been learned in before its profile is used, 1..7. Default 3. */
  weekProfileWeeks: number;
  /**
   * Relations between a device's target features (relations.ts): a feature off against the partners it
   * normally moves with counts; its nines less this discount when larger; a relation still broken keeps an
   * episode open. Counts once 200 readings of its error have been learned after `noveltyAfter`. 0: off.
   * Default 1 (bench:multivariate, 8 experiments per fault: F1 0.63 -> 0.73, broken relation 0.05 -> 0.80;
   * 2: the same). Univariate devices have no relations: NAB is unchanged.
   */
  relationWeight: number;
  /** Partners whose correlation is at least this (in absolute value) predict a feature. Default 0.7. */
  minCorrelation: number;
  /** Evidence of a stuck value, in nines. Default 6. */
  stuckNines: number;
  /** Readings of a device before range novelty may fire (the range means little at first). Default 150. */
  noveltyAfter: number;
  /** A feature repeating exactly one value for this many readings, and longer than twice its longest normal run, is stuck. 0: off. Default 30. */
  stuckReadings: number;
  /**
   * Inside an open episode, after the reading that opened it, the published
   * likelihood is capped at this level (below the alarm threshold), so the
   * threshold is crossed once per episode; the episode itself stays open for
   * as long as the evidence lasts. Default 0.995.
   */
  holdLevel: number;
  /** An open episode stays open while a feature is more than levelK standard deviations from its level before the episode. 0: off. Default 2 (3 closed sustained faults early on bench:multivariate: F1 0.53 against 0.66; NAB tuning flag 45.53 against 43.31). */
  levelK: number;
  /** Horizon of that level's mean and variance (learned outside episodes), in readings. Default 500. */
  levelWindow: number;
  /** An episode ends after `calmReadings` readings in a row below this likelihood. Default 0.99999. */
  release: number;
  /**
   * When > 0, an episode calms on readings whose recent error is back within its normal spread: every
   * feature's scaled error averaged over about `calmWindow` readings at most calmZ standard deviations above
   * its usual level, nothing out of range or repeating. (The likelihood's own window, `shortWindow`, lags
   * a spike by about 20 readings: episodes would outlast the anomaly.) After such an end the smoothed
   * evidence of the same event is not learned (up to `tailLearn` readings) and cannot open another episode
   * while it stays above `release`. 0: calm by `release` alone. Defaults 4 and 10 (NAB, all files, with
   * relearnAfterMs 30 min: flag 48.01 -> 60.71; bench:multivariate F1 0.66 -> 0.69: a change of variance
   * keeps its episode open, where 6 and 5 closed it: F1 0.58).
   */
  calmZ: number;
  calmWindow: number;
  /** Readings after an episode's end during which its still-high smoothed evidence is not learned. Default 20. */
  tailLearn: number;
  /** Calm readings in a row (see calmZ; without it, readings below `release`) that end an episode. Default 1. */
  calmReadings: number;
  /**
   * Readings after an episode ends during which only evidence stronger than
   * that episode's peak opens another (its aftershocks are the same event);
   * with calmZ they are counted once the smoothed evidence is below `release`.
   * At least 1 with calmZ. Default 30 (NAB tuning half, with the defaults
   * above: likelihood 68.97 at 50, 70.55 at 30 and 20).
   */
  refractory: number;
  /**
   * An episode that has lasted both `relearnAfter` readings and
   * `relearnAfterMs` of the device's time is taken as its new normal: it
   * ends and learning resumes. Until then a sustained fault holds its episode
   * open (a level departure, range novelty, a stuck value or errors still
   * large keep it from calming). Defaults 6 readings and 30 minutes: a
   * departure that lasts half an hour is how the device runs now, whatever
   * its sampling rate (a 1 Hz machine's fault stays open for 1,800 readings;
   * a 5-minute series' burst ends after 6: NAB flag 55.08 at 10 readings and
   * an hour, 60.71 at 6 and 30 minutes). relearnAfter 0: never.
   */
  relearnAfter: number;
  relearnAfterMs: number;
}

export const SCORING_DEFAULTS: Readonly<ScoringOptions> = Object.freeze({
  errorWindow: 2000,
  zCap: 10,
  shortWindow: 20,
  longWindow: 2000,
  minStd: 0.05,
  noveltyMargin: 0.05,
  noveltyNines: 10,
  noveltyGain: 10,
  naiveWeight: 0.5,
  seasonWeight: 2,
  seasonDays: 2,
  seasonWindow: 500,
  weekWeight: 3,
  calibrationWindow: 0,
  varianceWeight: 0,
  weekProfileWeeks: 3,
  relationWeight: 1,
  minCorrelation: 0.7,
  stuckNines: 6,
  noveltyAfter: 150,
  stuckReadings: 30,
  holdLevel: 0.995,
  levelK: 2,
  levelWindow: 500,
  release: 0.99999,
  calmZ: 4,
  calmWindow: 10,
  tailLearn: 20,
  calmReadings: 1,
  refractory: 30,
  relearnAfter: 6,
  relearnAfterMs: 1_800_000,
});

/**
 * Alarm thresholds of the sensitivity presets (likelihood at or above which
 * an episode opens). `normal` is the threshold at which the flag scored best
 * on the tuning half of NAB under all three of NAB's cost profiles (9 nines:
 * `npm run bench:tune-detector`, README "How the detector was tuned");
 * `low` asks for two nines more evidence (fewer, surer alarms), `high` for
 * one nine less.
 */
export const SENSITIVITY_THRESHOLDS = Object.freeze({ low: 1 - 1e-11, normal: 1 - 1e-9, high: 1 - 1e-8 });
export type Sensitivity = keyof typeof SENSITIVITY_THRESHOLDS;
export const SENSITIVITIES = Object.keys(SENSITIVITY_THRESHOLDS) as Sensitivity[];
