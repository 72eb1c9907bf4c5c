/**
 * One-step-ahead forecast accuracy, streamed row by row beside the detector:
 * the detector's forecast against naive persistence (y[t-1]) and seasonal
 * naive (the value one season earlier, found by time, so gaps and irregular
 * sampling are respected).
 *
 * Protocol (so numbers are comparable across detectors):
 * - Rows 0..P-1, NAB's probationary period, are in-sample. MASE's scale is the
 *   mean absolute one-step change over them (Hyndman & Koehler 2006), and the
 *   seasonal period is fixed from their timestamps. Rows P.. are scored.
 * - Every method is scored on the same rows: those where the detector
 *   forecast (a detector with no forecasts at all gets n/a, and the baselines
 *   are scored on every row past P).
 * - Where no row lies one season back (a gap), seasonal naive falls back to
 *   persistence; the fallbacks are counted.
 */
import { medianInterval, seasonalPeriodMs } from './seasonal-period';

export type ForecastMethod = 'detector' | 'persistence' | 'seasonal';
export const FORECAST_METHODS: readonly ForecastMethod[] = ['detector', 'persistence', 'seasonal'];

export interface MethodAccuracy {
  /** Mean absolute error over the scored rows, in original units. */
  readonly mae: number;
  /** MAE over the in-sample naive MAE; NaN when the in-sample series is flat (scale 0). */
  readonly mase: number;
  /** Symmetric MAPE in percent, 0..200; a row where forecast and actual are both 0 counts 0. */
  readonly smape: number;
}

export interface FileForecastAccuracy {
  readonly file: string;
  /** Rows scored (past the probation, with a detector forecast if the detector forecasts). */
  readonly rows: number;
  readonly scale: number;
  readonly periodMs: number;
  readonly seasonalFallbacks: number;
  /** Absent for methods with no scored rows (a detector without forecasts). */
  readonly methods: Partial<Record<ForecastMethod, MethodAccuracy>>;
}

class ErrorSums {
  n = 0;
  abs = 0;
  smape = 0;
  add(actual: number, forecast: number): void {
    const e = Math.abs(actual - forecast);
    const d = Math.abs(actual) + Math.abs(forecast);
    this.n++;
    this.abs += e;
    this.smape += d === 0 ? 0 : (2 * e) / d;
  }
  accuracy(scale: number): MethodAccuracy | undefined {
    if (this.n === 0) return undefined;
    const mae = this.abs / this.n;
    return { mae, mase: scale > 0 ? mae / scale : NaN, smape: (100 * this.smape) / this.n };
  }
}

export class StreamingForecastAccuracy {
  readonly #file: string;
  readonly #probation: number;
  readonly #ts: number[] = [];
  readonly #ys: number[] = [];
  #scaleSum = 0;
  #period = NaN;
  #tolerance = 0;
  #lag = 0; // index of the latest row at or before (t - period + tolerance), advanced monotonically
  #fallbacks = 0;
  #paired = { detector: new ErrorSums(), persistence: new ErrorSums(), seasonal: new ErrorSums() };
  // Baselines over every scored row, reported only if the detector never forecasts.
  #all = { persistence: new ErrorSums(), seasonal: new ErrorSums() };

  constructor(file: string, probation: number) {
    this.#file = file;
    this.#probation = Math.max(probation, 1);
  }

  /**
   * Row i arrives with the detector's forecast of it, made at row i-1 (NaN if
   * none). Must be called before the detector sees the row's value: only the
   * past goes into the baselines.
   */
  observe(timestampMs: number, value: number, detectorForecast: number): void {
    const i = this.#ys.length;
    if (i >= 1 && i < this.#probation) this.#scaleSum += Math.abs(value - this.#ys[i - 1]!);
    if (i === this.#probation) {
      const dt = medianInterval(this.#ts);
      this.#period = seasonalPeriodMs(dt);
      this.#tolerance = dt / 2;
    }
    if (i >= this.#probation) {
      const persistence = this.#ys[i - 1]!;
      let seasonal = this.#seasonal(timestampMs);
      if (Number.isNaN(seasonal)) {
        seasonal = persistence;
        this.#fallbacks++;
      }
      this.#all.persistence.add(value, persistence);
      this.#all.seasonal.add(value, seasonal);
      if (Number.isFinite(detectorForecast)) {
        this.#paired.detector.add(value, detectorForecast);
        this.#paired.persistence.add(value, persistence);
        this.#paired.seasonal.add(value, seasonal);
      }
    }
    this.#ts.push(timestampMs);
    this.#ys.push(value);
  }

  #seasonal(t: number): number {
    if (Number.isNaN(this.#period)) return NaN;
    const target = t - this.#period;
    const n = this.#ts.length;
    while (this.#lag + 1 < n && this.#ts[this.#lag + 1]! <= target + this.#tolerance) this.#lag++;
    return Math.abs(this.#ts[this.#lag]! - target) <= this.#tolerance ? this.#ys[this.#lag]! : NaN;
  }

  result(): FileForecastAccuracy {
    const scale = this.#probation > 1 ? this.#scaleSum / (Math.min(this.#probation, this.#ys.length) - 1) : NaN;
    const paired = this.#paired.detector.n > 0;
    const src = paired ? this.#paired : { detector: new ErrorSums(), ...this.#all };
    const methods: Partial<Record<ForecastMethod, MethodAccuracy>> = {};
    for (const m of FORECAST_METHODS) {
      const a = src[m].accuracy(scale);
      if (a) methods[m] = a;
    }
    return { file: this.#file, rows: src.persistence.n, scale, periodMs: this.#period, seasonalFallbacks: this.#fallbacks, methods };
  }
}

export interface GroupForecastAccuracy {
  /** A category name, or `all`. */
  readonly group: string;
  readonly files: number;
  /** Mean over files of each method's MASE (files with a flat in-sample period left out) and sMAPE. */
  readonly methods: Partial<Record<ForecastMethod, { mase: number; maseFiles: number; smape: number }>>;
}

/** Per-category and overall means of the per-file figures: each file weighs the same, as in NAB. */
export function groupForecastAccuracy(files: readonly FileForecastAccuracy[]): GroupForecastAccuracy[] {
  const groups = new Map<string, FileForecastAccuracy[]>();
  for (const f of files) {
    const g = f.file.includes('/') ? f.file.split('/')[0]! : '';
    groups.set(g, [...(groups.get(g) ?? []), f]);
  }
  const summarize = (group: string, list: readonly FileForecastAccuracy[]): GroupForecastAccuracy => {
    const methods: GroupForecastAccuracy['methods'] = {};
    for (const m of FORECAST_METHODS) {
      const acc = list.map((f) => f.methods[m]).filter((a): a is MethodAccuracy => a !== undefined);
      if (acc.length === 0) continue;
      const mases = acc.map((a) => a.mase).filter((x) => Number.isFinite(x));
      methods[m] = { mase: mases.length ? mases.reduce((s, x) => s + x, 0) / mases.length : NaN, maseFiles: mases.length, smape: acc.reduce((s, a) => s + a.smape, 0) / acc.length };
    }
    return { group, files: list.length, methods };
  };
  return [...[...groups.entries()].map(([g, l]) => summarize(g, l)), summarize('all', files)];
}
