import type { Normalization } from './metadata';

/** Normalized inputs are clipped to ±CLIP so a wild reading cannot saturate the LSTM into a long recovery. */
export const CLIP = 10;

/**
 * Per-device statistics live in the state store's slots: for each device
 * `count`, then `mean[F]`, then `variance[F]`, i.e. 1 + 2F floats. Global
 * normalization uses none.
 */
export function statsWidth(n: Normalization, features: number): number {
  return n.mode === 'per-device' ? 1 + 2 * features : 0;
}

/**
 * Folds one sample into a device's running statistics: a plain average over
 * the first `window` samples, then an exponential moving average with
 * alpha = 1/window (West's incremental form, so no history is kept).
 */
export function observe(n: Normalization, stats: Float64Array | Float32Array, off: number, values: ArrayLike<number>): void {
  if (n.mode !== 'per-device') return;
  const F = values.length;
  const count = stats[off]! + 1;
  const alpha = 1 / Math.min(count, n.window);
  for (let f = 0; f < F; f++) {
    const mean = stats[off + 1 + f]!;
    const delta = values[f]! - mean;
    stats[off + 1 + f] = mean + alpha * delta;
    stats[off + 1 + F + f] = (1 - alpha) * (stats[off + 1 + F + f]! + alpha * delta * delta);
  }
  stats[off] = count;
}

export function featureMean(n: Normalization, stats: ArrayLike<number>, off: number, f: number): number {
  return n.mode === 'global' ? n.mean[f]! : stats[off + 1 + f]!;
}

export function featureStd(n: Normalization, stats: ArrayLike<number>, off: number, features: number, f: number): number {
  if (n.mode === 'global') return n.std[f]!;
  return Math.max(Math.sqrt(stats[off + 1 + features + f]!), n.minStd);
}

/** Writes the normalized, clipped input of one device into `out` at `outOff`. */
export function normalizeInto(n: Normalization, stats: ArrayLike<number>, off: number, values: ArrayLike<number>, out: Float32Array, outOff: number): void {
  const F = values.length;
  for (let f = 0; f < F; f++) {
    const z = (values[f]! - featureMean(n, stats, off, f)) / featureStd(n, stats, off, F, f);
    out[outOff + f] = z > CLIP ? CLIP : z < -CLIP ? -CLIP : z;
  }
}
