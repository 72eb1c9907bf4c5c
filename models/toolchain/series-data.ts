import { EdgeLstmError } from '../../runtime/errors';
import type { Normalization } from '../../runtime/model/metadata';
import { CLIP, featureMean, featureStd, normalizeInto, observe, statsWidth } from '../../runtime/model/normalizer';

/** One device's history in raw units: `columns[f][i]` is feature f at row i. */
export interface RawSeries {
  readonly name: string;
  readonly columns: readonly Float64Array[];
}

/** A series ready for training: what the engine would feed the LSTM, and what it should predict. */
export interface PreparedSeries {
  readonly name: string;
  /** Rows with a target: one less than the raw rows. */
  readonly rows: number;
  /** [rows][F] normalized, clipped inputs. */
  readonly x: Float64Array;
  /** [rows][T] the next reading of each target, normalized with the statistics of the current step. */
  readonly y: Float64Array;
  /** The feature each target is (its column in x); absent: target j is feature j. */
  readonly targetIndex?: readonly number[];
}

/** Global normalization: mean and (population) standard deviation of every feature over all series. */
export function globalNormalization(series: readonly RawSeries[], features: number): Normalization {
  const mean: number[] = [];
  const std: number[] = [];
  for (let f = 0; f < features; f++) {
    let n = 0;
    let s = 0;
    for (const r of series) for (const v of r.columns[f]!) (s += v), n++;
    const m = s / n;
    let ss = 0;
    for (const r of series) for (const v of r.columns[f]!) ss += (v - m) * (v - m);
    mean.push(m);
    std.push(Math.max(Math.sqrt(ss / n), 1e-12));
  }
  return { mode: 'global', mean, std };
}

/**
 * Replays a series through the engine's own normalization (runtime/engine/normalizer)
 * in stream order, so training sees exactly the inputs the engine will make:
 * x_t = clip((v_t - mean_t) / std_t) and target (v_{t+1} - mean_t) / std_t,
 * mean_t and std_t being the statistics after observing v_t. Targets are
 * clipped like inputs so one spike cannot dominate the squared error.
 */
export function prepareSeries(raw: RawSeries, norm: Normalization, targetIndex: readonly number[]): PreparedSeries {
  const F = raw.columns.length;
  const T = targetIndex.length;
  const n = raw.columns[0]!.length;
  if (n < 2) throw new EdgeLstmError('E_CSV', `${raw.name}: needs at least 2 rows to make one training pair`, { file: raw.name });
  const rows = n - 1;
  const x = new Float64Array(rows * F);
  const y = new Float64Array(rows * T);
  const stats = new Float64Array(Math.max(1, statsWidth(norm, F)));
  const values = new Float64Array(F);
  const xRow = new Float32Array(F);
  for (let t = 0; t < rows; t++) {
    for (let f = 0; f < F; f++) values[f] = raw.columns[f]![t]!;
    observe(norm, stats, 0, values);
    // normalizeInto writes float32, as the engine's input tensor holds.
    normalizeInto(norm, stats, 0, values, xRow, 0);
    for (let f = 0; f < F; f++) x[t * F + f] = xRow[f]!;
    for (let j = 0; j < T; j++) {
      const f = targetIndex[j]!;
      const z = (raw.columns[f]![t + 1]! - featureMean(norm, stats, 0, f)) / featureStd(norm, stats, 0, F, f);
      y[t * T + j] = z > CLIP ? CLIP : z < -CLIP ? -CLIP : z;
    }
  }
  return { name: raw.name, rows, x, y, targetIndex: [...targetIndex] };
}
