/**
 * Relations between the features of one device. Sensors of one machine move
 * together (a pump's flow, pressure and current follow its speed); a fault
 * can break that while every sensor stays inside its own range (a valve
 * sticking: the flow stops following the pressure). Each feature scored on
 * its own cannot see it.
 *
 * Per pair of target features, the correlation of their standardized values
 * (each against its level before any episode), learned outside episodes.
 * For feature i, each strongly related partner j (|rho| >= minCorrelation)
 * predicts z_i as rho * z_j; the residual over its spread sqrt(1 - rho^2) is
 * a scaled error. The feature's relation error is the median over its
 * partners: a feature whose relation broke is off against all of them, a
 * partner of it only against one. Scored by the caller like the forecasts'
 * errors (short-term average against its long-term distribution).
 *
 * State: T(T-1)/2 correlations per device, after the feature records.
 * Nothing is allocated per reading (one module scratch buffer).
 */

import { distributionNines, foldDistribution } from './running-distribution';
import type { ScoringOptions } from './scoring-options';

// A feature's block: its relation error's short-term average and the long-term distribution of that.
const SHORT = 0;
const LONG_MEAN = 1;
const LONG_VAR = 2;
const N = 3;
export const RELATION_FEATURE_WIDTH = 4;
/** Readings of relation error learned before it counts as evidence. */
const SETTLE = 200;

/** Targets whose relations are tracked: the pairs grow with the square, so larger devices go without. */
export const RELATION_MAX_TARGETS = 32;

export function relationWidth(targets: number): number {
  return targets >= 2 && targets <= RELATION_MAX_TARGETS ? (targets * (targets - 1)) / 2 : 0;
}

function pairIndex(i: number, j: number, T: number): number {
  const [a, b] = i < j ? [i, j] : [j, i];
  return a * T - (a * (a + 1)) / 2 + (b - a - 1);
}

const scratch = new Float64Array(RELATION_MAX_TARGETS);

/**
 * Feature i's relation error at this reading: the median over its strongly related partners of
 * |z_i - rho z_j| / sqrt(1 - rho^2); NaN when it has none (or the device has one target).
 * `z` holds every target's standardized value (see `standardize`).
 */
export function relationError(a: Float64Array, pairs: number, T: number, i: number, z: ArrayLike<number>, minCorrelation: number): number {
  if (relationWidth(T) === 0) return NaN;
  let k = 0;
  for (let j = 0; j < T; j++) {
    if (j === i) continue;
    const rho = Math.max(-1, Math.min(1, a[pairs + pairIndex(i, j, T)]!));
    if (!(Math.abs(rho) >= minCorrelation)) continue;
    scratch[k++] = Math.abs(z[i]! - rho * z[j]!) / Math.sqrt(Math.max(1 - rho * rho, 0.01));
  }
  if (k === 0) return NaN;
  // Insertion sort of at most 31 values.
  for (let x = 1; x < k; x++) {
    const v = scratch[x]!;
    let y = x - 1;
    for (; y >= 0 && scratch[y]! > v; y--) scratch[y + 1] = scratch[y]!;
    scratch[y + 1] = v;
  }
  return k % 2 === 1 ? scratch[(k - 1) / 2]! : (scratch[k / 2 - 1]! + scratch[k / 2]!) / 2;
}

/** Folds a normal reading's standardized values into the pair correlations (mean of products over about `window` readings). */
export function learnRelations(a: Float64Array, pairs: number, T: number, z: ArrayLike<number>, readings: number, window: number): void {
  if (relationWidth(T) === 0) return;
  const k = 1 / Math.min(readings, window);
  let p = pairs;
  for (let i = 0; i < T; i++) {
    for (let j = i + 1; j < T; j++, p++) {
      a[p] = a[p]! + k * (z[i]! * z[j]! - a[p]!);
    }
  }
}

/** Standardized value of a reading against a level's mean and variance, bounded so one wild reading cannot dominate a correlation. */
export function standardize(v: number, mean: number, variance: number): number {
  if (!(variance > 0)) return 0;
  return Math.max(-5, Math.min(5, (v - mean) / Math.sqrt(variance)));
}

/**
 * Folds feature i's relation error `e` into its short-term average (block at `f`) and returns the
 * evidence in nines: the average against its long-term distribution; NaN until that has settled.
 */
export function relationEvidence(o: ScoringOptions, a: Float64Array, f: number, e: number): number {
  const z = Math.min(e, o.zCap);
  const n = a[f + N]!;
  const short = a[f + SHORT]! + (z - a[f + SHORT]!) / Math.min(n + 1, o.shortWindow);
  a[f + SHORT] = short;
  if (n < SETTLE) return NaN;
  return distributionNines(a, f + LONG_MEAN, f + LONG_VAR, short, o.minStd);
}

/** Learns the short-term average's long-term distribution from a normal reading. */
export function learnRelationError(o: ScoringOptions, a: Float64Array, f: number): void {
  const n = a[f + N]! + 1;
  foldDistribution(a, f + LONG_MEAN, f + LONG_VAR, a[f + SHORT]!, 1 / Math.min(n, o.longWindow));
  a[f + N] = n;
}
