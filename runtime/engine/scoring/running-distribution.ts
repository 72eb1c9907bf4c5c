/**
 * The one statistic every detector signal uses: a short-term average of a
 * scaled error against the long-term distribution of that average (West's
 * incremental mean and variance), read in nines. Kept in a Float64 row at
 * two slots, `mean` and `variance`; nothing is allocated.
 */
import { normalTailNines } from './surprise';

/** Folds `x` into the mean and variance at `a[mean]`, `a[variance]` with weight `alpha` (1/n until the window is full). */
export function foldDistribution(a: Float64Array, mean: number, variance: number, x: number, alpha: number): void {
  const d = x - a[mean]!;
  a[mean] = a[mean]! + alpha * d;
  a[variance] = (1 - alpha) * (a[variance]! + alpha * d * d);
}

/** How unusual `x` is against that distribution, in nines (standard deviation floored at `minStd`). */
export function distributionNines(a: Float64Array, mean: number, variance: number, x: number, minStd: number): number {
  return normalTailNines((x - a[mean]!) / Math.max(Math.sqrt(a[variance]!), minStd));
}
