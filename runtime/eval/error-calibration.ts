/**
 * Turns a stream of forecast errors into NAB anomaly scores in [0, 1]: what
 * the LSTM detector puts between the engine's forecasts and NAB's threshold.
 * Three parts, each measured on its own in runtime/eval/PROTOCOL.md:
 *
 * 1. Error scale: |error| divided by the stream's own mean absolute error
 *    (exponential, `errorWindow` rows), read before the error joins it, capped
 *    at `zCap`. The mean absolute error is the robust choice: one huge error
 *    inflates a variance for thousands of rows, an absolute mean much less.
 * 2. Numenta's anomaly likelihood on that scaled error (the engine's streaming
 *    form, runtime/engine/likelihood.ts) and Numenta's log scale, so 0.5 means
 *    likelihood 0.99999.
 * 3. Range novelty: a value beyond the range seen so far (by more than
 *    `noveltyMargin` of that range) scores 1, after `noveltyAfter` rows. This
 *    is the part of ARTime and contextOSE that a forecaster cannot see: a
 *    forecaster forgives a slow climb to a value never seen before.
 *
 * After a score reaches `restLevel`, scores are held below it for `restRows`
 * rows (NAB charges every false-alarm row; only the first detection in a
 * window counts). Streaming, O(1) per row, nothing allocated per row.
 */
import { DEFAULT_LIKELIHOOD, likelihoodWidth, logLikelihood, updateLikelihood, type LikelihoodOptions } from '../engine/likelihood';

export interface CalibrationOptions {
  /** Score the forecast errors (parts 1 and 2). Default true; false leaves range novelty alone, for ablations. */
  errors: boolean;
  /** Horizon of the error scale, in rows. Default 2000, the likelihood's long window. */
  errorWindow: number;
  /** 'mae': error over the mean absolute error (default); 'rms': over the root mean square error. */
  scale: 'mae' | 'rms';
  /** Scaled errors are capped so one wild row cannot dominate the likelihood's history. Default 10. */
  zCap: number;
  /** Numenta's likelihood on the scaled error. Default: the engine's (short 10, long 2000). */
  likelihood: LikelihoodOptions;
  /** Score 1 for a value outside the range seen so far. Default true. */
  novelty: boolean;
  /** How far outside, as a fraction of the range seen so far. Default 0.05. */
  noveltyMargin: number;
  /** Rows before range novelty may fire (the range is meaningless at first). Default 150. */
  noveltyAfter: number;
  /** Rows held below `restLevel` after a score reaches it. Default 150 (contextOSE's P/5 for a full-size NAB file). 0: off. */
  restRows: number;
  /** Default 0.5 (likelihood 0.99999). */
  restLevel: number;
}

export const CALIBRATION_DEFAULTS: Readonly<CalibrationOptions> = Object.freeze({
  errors: true,
  errorWindow: 2000,
  scale: 'mae',
  zCap: 10,
  likelihood: DEFAULT_LIKELIHOOD,
  novelty: true,
  noveltyMargin: 0.05,
  noveltyAfter: 150,
  restRows: 150,
  restLevel: 0.5,
});

/** Checks and completes options; RangeError naming the option on a bad value. */
export function resolveCalibration(o: Partial<CalibrationOptions> = {}): CalibrationOptions {
  const r: CalibrationOptions = { ...CALIBRATION_DEFAULTS, ...o, likelihood: { ...DEFAULT_LIKELIHOOD, ...o.likelihood } };
  const check = (ok: boolean, name: string, expected: string, found: unknown): void => {
    if (!ok) throw new RangeError(`${name}: expected ${expected}, found ${JSON.stringify(found)}`);
  };
  const int = (v: unknown, min: number): boolean => typeof v === 'number' && Number.isInteger(v) && v >= min;
  check(typeof r.errors === 'boolean', 'errors', 'true or false', r.errors);
  check(int(r.errorWindow, 1), 'errorWindow', 'an integer >= 1', r.errorWindow);
  check(r.scale === 'mae' || r.scale === 'rms', 'scale', '"mae" or "rms"', r.scale);
  check(typeof r.zCap === 'number' && r.zCap > 0, 'zCap', 'a number > 0', r.zCap);
  check(typeof r.novelty === 'boolean', 'novelty', 'true or false', r.novelty);
  check(typeof r.noveltyMargin === 'number' && r.noveltyMargin >= 0, 'noveltyMargin', 'a number >= 0', r.noveltyMargin);
  check(int(r.noveltyAfter, 0), 'noveltyAfter', 'an integer >= 0', r.noveltyAfter);
  check(int(r.restRows, 0), 'restRows', 'an integer >= 0', r.restRows);
  check(typeof r.restLevel === 'number' && r.restLevel > 0 && r.restLevel <= 1, 'restLevel', 'a number in (0, 1]', r.restLevel);
  check(int(r.likelihood.shortWindow, 1), 'likelihood.shortWindow', 'an integer >= 1', r.likelihood.shortWindow);
  check(int(r.likelihood.longWindow, 2), 'likelihood.longWindow', 'an integer >= 2', r.likelihood.longWindow);
  check(typeof r.likelihood.minStd === 'number' && r.likelihood.minStd > 0, 'likelihood.minStd', 'a number > 0', r.likelihood.minStd);
  return r;
}

/** One stream's calibration state; `reset` between streams. */
export class ErrorCalibration {
  readonly options: Readonly<CalibrationOptions>;
  readonly #lik: Float64Array;
  #rows = 0;
  #errors = 0;
  #scale = 0;
  #rest = 0;
  #min = Infinity;
  #max = -Infinity;

  constructor(options: Partial<CalibrationOptions> = {}) {
    this.options = Object.freeze(resolveCalibration(options));
    this.#lik = new Float64Array(likelihoodWidth(this.options.likelihood));
  }

  reset(): void {
    this.#lik.fill(0);
    this.#rows = 0;
    this.#errors = 0;
    this.#scale = 0;
    this.#rest = 0;
    this.#min = Infinity;
    this.#max = -Infinity;
  }

  /**
   * Scores one row: `value` as read, `error` = value - the forecast made at
   * the previous row (null when there was none: the stream's first row).
   */
  score(value: number, error: number | null): number {
    const o = this.options;
    let s = 0;
    if (error !== null) {
      const e = o.scale === 'mae' ? Math.abs(error) : error * error;
      // The scale is read before this error joins it, so a spike is measured against the past only.
      const z = this.#errors > 0 ? Math.min(Math.abs(error) / (o.scale === 'mae' ? this.#scale + 1e-12 : Math.sqrt(this.#scale + 1e-12)), o.zCap) : 0;
      this.#errors++;
      this.#scale += (e - this.#scale) / Math.min(this.#errors, o.errorWindow);
      if (o.errors) s = logLikelihood(updateLikelihood(o.likelihood, this.#lik, 0, z));
      if (o.novelty && this.#rows >= o.noveltyAfter && this.#isNovel(value)) s = 1;
      if (this.#rest > 0) {
        this.#rest--;
        s = Math.min(s, o.restLevel * 0.999);
      } else if (o.restRows > 0 && s >= o.restLevel) this.#rest = o.restRows;
    }
    this.#rows++;
    if (value < this.#min) this.#min = value;
    if (value > this.#max) this.#max = value;
    return Math.min(Math.max(s, 0), 1);
  }

  #isNovel(value: number): boolean {
    const range = this.#max - this.#min;
    // A flat history has no range to take a margin of: any other value is new.
    if (!(range > 0)) return value !== this.#max;
    return Math.max(value - this.#max, this.#min - value) > this.options.noveltyMargin * range;
  }
}
