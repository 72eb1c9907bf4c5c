/**
 * The baseline detector: an exponentially smoothed forecast, its error as a
 * z-score against the stream's own error history, and Numenta's anomaly
 * likelihood on top (the engine's streaming form, runtime/engine/likelihood).
 * It exists so the evaluation pipeline runs end to end before the LSTM is
 * wired in, and as the floor the LSTM has to beat. Scores are Numenta's log
 * scale (0.5 at likelihood 0.99999), as NAB's numenta detector reports.
 *
 * The defaults are a-priori choices borrowed from elsewhere (see each option),
 * checked in five full NAB runs; no per-file tuning. The rest period is the
 * lever that matters: NAB scores 20.75 without it and 47.43 with it.
 */
import { DEFAULT_LIKELIHOOD, likelihoodWidth, logLikelihood, updateLikelihood, type LikelihoodOptions } from '../engine/likelihood';
import type { Detector, DetectorOutput } from './detector';

export interface ZScoreOptions {
  /** Smoothing of the forecast level: 1 is persistence. Default 0.5. */
  alpha: number;
  /** Horizon of the error variance, in rows. Default 2000, the engine likelihood's long window. */
  errorWindow: number;
  /** z-scores are capped so one wild row cannot blow up the likelihood's history. Default 10. */
  zCap: number;
  /** After the likelihood crosses `restLevel`, scores are held below it for this many rows: NAB charges every repeated false alarm. Default 150: contextOSE's rest period of P/5 rows for a full-size file. */
  restRows: number;
  /** Default 0.5 (likelihood 0.99999). */
  restLevel: number;
  likelihood: LikelihoodOptions;
}

export const ZSCORE_DEFAULTS: Readonly<ZScoreOptions> = Object.freeze({ alpha: 0.5, errorWindow: 2000, zCap: 10, restRows: 150, restLevel: 0.5, likelihood: DEFAULT_LIKELIHOOD });

export class ZScoreDetector implements Detector {
  readonly name = 'zscore-likelihood';
  readonly #o: ZScoreOptions;
  readonly #lik: Float64Array;
  #level = NaN;
  #errVar = 0;
  #seen = 0;
  #rest = 0;
  // Reused: step() is called once per row, 365k times per corpus run.
  readonly #out: DetectorOutput = { score: 0, forecast: 0 };

  constructor(options: Partial<ZScoreOptions> = {}) {
    const o = { ...ZSCORE_DEFAULTS, ...options };
    if (!(o.alpha > 0 && o.alpha <= 1)) throw new RangeError(`alpha: expected a number in (0, 1], found ${o.alpha}`);
    if (!(o.errorWindow >= 1)) throw new RangeError(`errorWindow: expected a number >= 1, found ${o.errorWindow}`);
    if (!(o.zCap > 0)) throw new RangeError(`zCap: expected a number > 0, found ${o.zCap}`);
    if (!(Number.isInteger(o.restRows) && o.restRows >= 0)) throw new RangeError(`restRows: expected an integer >= 0, found ${o.restRows}`);
    this.#o = o;
    this.#lik = new Float64Array(likelihoodWidth(o.likelihood));
  }

  reset(): void {
    this.#lik.fill(0);
    this.#level = NaN;
    this.#errVar = 0;
    this.#seen = 0;
    this.#rest = 0;
  }

  step(_timestampMs: number, value: number): DetectorOutput {
    const o = this.#o;
    let score = 0;
    if (this.#seen > 0) {
      const err = value - this.#level;
      // The variance is read before this error joins it, so a spike is measured against the past only.
      const z = this.#seen > 1 ? Math.min(Math.abs(err) / Math.sqrt(this.#errVar + 1e-12), o.zCap) : 0;
      const a = 1 / Math.min(this.#seen, o.errorWindow);
      this.#errVar += a * (err * err - this.#errVar);
      score = logLikelihood(updateLikelihood(o.likelihood, this.#lik, 0, z));
      if (this.#rest > 0) {
        this.#rest--;
        score = Math.min(score, o.restLevel * 0.999);
      } else if (o.restRows > 0 && score >= o.restLevel) this.#rest = o.restRows;
      this.#level += o.alpha * err;
    } else {
      this.#level = value;
    }
    this.#seen++;
    this.#out.score = Math.min(Math.max(score, 0), 1);
    this.#out.forecast = this.#level;
    return this.#out;
  }
}
