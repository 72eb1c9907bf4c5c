import type { Episode, Result, Sample } from './sample';
import { EpisodeEvent, maskNames, ReadingScore } from './scoring/device-scorer';
import { episodeOf, NO_FEATURES } from './scoring/result-fields';

/** What stepBatch writes per batch row, column by column (engine-owned, reused every batch). */
export class ResultColumns {
  /** 1: the device had a forecast for this reading (expected, error, score and likelihood are set). */
  readonly hasForecast: Uint8Array;
  /** [B, T]: the forecast made at the previous reading, original units. */
  readonly expected: Float64Array;
  /** [B, T]: value - expected. */
  readonly error: Float64Array;
  /** Raw score; NaN without a forecast. */
  readonly score: Float64Array;
  /** Likelihood; NaN without a forecast. */
  readonly likelihood: Float64Array;
  readonly anomaly: Uint8Array;
  /** 1: in the device's learning period. */
  readonly learning: Uint8Array;
  /** Anomalous targets as a bit mask (scoring/device-scorer.ts). */
  readonly mask: Float64Array;
  /** EpisodeEvent of the reading, and its episode's start, readings and peak. */
  readonly event: Uint8Array;
  readonly episodeStart: Float64Array;
  readonly episodeReadings: Float64Array;
  readonly episodePeak: Float64Array;
  /** [B, horizon * T]: forecasts, step-major. */
  readonly forecast: Float64Array;

  constructor(maxBatch: number, T: number, horizon: number) {
    this.hasForecast = new Uint8Array(maxBatch);
    this.expected = new Float64Array(maxBatch * T);
    this.error = new Float64Array(maxBatch * T);
    this.score = new Float64Array(maxBatch);
    this.likelihood = new Float64Array(maxBatch);
    this.anomaly = new Uint8Array(maxBatch);
    this.learning = new Uint8Array(maxBatch);
    this.mask = new Float64Array(maxBatch);
    this.event = new Uint8Array(maxBatch);
    this.episodeStart = new Float64Array(maxBatch);
    this.episodeReadings = new Float64Array(maxBatch);
    this.episodePeak = new Float64Array(maxBatch);
    this.forecast = new Float64Array(maxBatch * T * horizon);
  }
}

/** The batch rows a BatchResults reads: each stepped sample and its settled timestamp. */
export interface SteppedRow {
  readonly sample: Sample;
  readonly ts: number;
}

/**
 * One batch's results, columnar: what a high-rate caller reads without a
 * Result object per reading (Engine.submitColumnar). Row i is the i-th
 * sample of the batch. The columns are the engine's and are overwritten by
 * the next batch: read them (or call `result(i)`) inside the callback only.
 * `result(i)` builds exactly the Result that `push`/`submit` deliver.
 */
export class BatchResults {
  /** Rows in this batch. */
  size = 0;
  /** Id of the model that stepped this batch. */
  model = '';
  /** Forecast steps per row. */
  readonly horizon: number;
  /** Targets per row. */
  readonly T: number;
  readonly targets: readonly string[];
  readonly columns: ResultColumns;
  #rows: readonly SteppedRow[] = [];
  readonly #rs = new ReadingScore();

  constructor(columns: ResultColumns, targets: readonly string[], horizon: number) {
    this.columns = columns;
    this.targets = targets;
    this.T = targets.length;
    this.horizon = horizon;
  }

  /** Points the view at a new batch (engine use). */
  reset(rows: readonly SteppedRow[], model: string): void {
    this.#rows = rows;
    this.size = rows.length;
    this.model = model;
  }

  device(i: number): string {
    return this.#rows[i]!.sample.device;
  }

  ts(i: number): number {
    return this.#rows[i]!.ts;
  }

  sample(i: number): Sample {
    return this.#rows[i]!.sample;
  }

  /** False for a device's first reading (and after a reset): expected, error, score and likelihood are then null in the Result. */
  hasForecast(i: number): boolean {
    return this.columns.hasForecast[i] === 1;
  }

  anomaly(i: number): boolean {
    return this.columns.anomaly[i] === 1;
  }

  warmup(i: number): boolean {
    return this.columns.learning[i] === 1;
  }

  /** Raw score, or null without a forecast. */
  score(i: number): number | null {
    const s = this.columns.score[i]!;
    return Number.isNaN(s) ? null : s;
  }

  likelihood(i: number): number | null {
    const s = this.columns.likelihood[i]!;
    return Number.isNaN(s) ? null : s;
  }

  /** True for the two readings of an episode that go to the anomaly topic: its start and its end. */
  episodeEvent(i: number): boolean {
    const e = this.columns.event[i];
    return e === EpisodeEvent.End || (e === EpisodeEvent.Start && this.columns.anomaly[i] === 1);
  }

  /** The Result of row i, the same object push/submit deliver (built on each call). */
  result(i: number): Result {
    const C = this.columns;
    const T = this.T;
    const { sample, ts } = this.#rows[i]!;
    const has = C.hasForecast[i] === 1;
    const anomalous = this.anomalousOf(i);
    const score = C.score[i]!;
    const likelihood = C.likelihood[i]!;
    return {
      device: sample.device,
      ts,
      // The caller's array is not copied: results are built once per sample and the engine never writes to it.
      values: Array.isArray(sample.values) ? (sample.values as number[]) : Array.from(sample.values),
      expected: has ? toArray(C.expected, i * T, T) : null,
      error: has ? toArray(C.error, i * T, T) : null,
      score: Number.isNaN(score) ? null : score,
      likelihood: Number.isNaN(likelihood) ? null : likelihood,
      anomaly: C.anomaly[i] === 1,
      anomalous,
      episode: this.episodeOf(i, anomalous),
      forecast: toArray(C.forecast, i * T * this.horizon, T * this.horizon),
      warmup: C.learning[i] === 1,
      model: this.model,
    };
  }

  /** Targets anomalous at row i (shared empty array when none). */
  anomalousOf(i: number): string[] {
    const mask = this.columns.mask[i]!;
    return mask === 0 ? NO_FEATURES : maskNames(mask, this.targets);
  }

  /** Row i's episode, or null; `features` is what anomalousOf(i) gave. */
  episodeOf(i: number, features: string[]): Episode | null {
    const C = this.columns;
    const rs = this.#rs;
    rs.anomaly = C.anomaly[i] === 1;
    rs.event = C.event[i] as EpisodeEvent;
    rs.episodeStart = C.episodeStart[i]!;
    rs.episodeReadings = C.episodeReadings[i]!;
    rs.episodePeak = C.episodePeak[i]!;
    return episodeOf(rs, this.#rows[i]!.ts, features);
  }
}

function toArray(a: Float64Array, off: number, n: number): number[] {
  const out = new Array<number>(n);
  for (let k = 0; k < n; k++) out[k] = a[off + k]!;
  return out;
}
