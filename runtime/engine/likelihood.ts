/**
 * A streaming form of Numenta's anomaly likelihood (Ahmad et al. 2017, and
 * nupic's anomaly_likelihood.py): the raw score's short-term average is
 * compared with the distribution of that average over the device's own
 * history, and the likelihood is the Gaussian tail's complement. Numenta
 * keeps thousands of past scores per stream and refits periodically; here
 * the distribution is an exponential moving mean and variance, so a device
 * costs a few numbers rather than kilobytes, and nothing is refitted.
 *
 * Per-device record (Float64, `LIKELIHOOD_WIDTH` values from `off`):
 *   [0] scores seen, [1] ring position, [2] long mean, [3] long variance,
 *   [4 .. 4+SHORT) ring of recent raw scores.
 */
export interface LikelihoodOptions {
  /** Raw scores averaged for the short-term view. Numenta: 10. */
  shortWindow: number;
  /** Horizon of the long-term mean and variance, in samples. Default 2000. */
  longWindow: number;
  /** Floor on the long-term standard deviation: a perfectly quiet history must not make every blip certain. Numenta uses 0.03 on [0,1] scores... here raw scores are in std units, so 0.05. */
  minStd: number;
}

export const DEFAULT_LIKELIHOOD: Readonly<LikelihoodOptions> = Object.freeze({ shortWindow: 10, longWindow: 2000, minStd: 0.05 });

export function likelihoodWidth(o: LikelihoodOptions): number {
  return 4 + o.shortWindow;
}

/**
 * Folds a raw score in and returns the likelihood that the recent scores are
 * unusual, in [0, 1]. The long-term statistics are read before the current
 * average joins them, so a score never explains itself.
 */
export function updateLikelihood(o: LikelihoodOptions, a: Float64Array, off: number, raw: number): number {
  const W = o.shortWindow;
  const seen = a[off]!;
  const pos = a[off + 1]!;
  a[off + 4 + pos] = raw;
  a[off + 1] = (pos + 1) % W;
  const n = Math.min(seen + 1, W);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += a[off + 4 + i]!;
  const avg = sum / n;

  let likelihood = 0.5;
  if (seen >= 1) {
    const std = Math.max(Math.sqrt(a[off + 3]!), o.minStd);
    likelihood = 1 - normalTail((avg - a[off + 2]!) / std);
  }
  // West's incremental mean and variance; a plain average until longWindow samples.
  const alpha = 1 / Math.min(seen + 1, o.longWindow);
  const delta = avg - a[off + 2]!;
  a[off + 2] = a[off + 2]! + alpha * delta;
  a[off + 3] = (1 - alpha) * (a[off + 3]! + alpha * delta * delta);
  a[off] = seen + 1;
  return likelihood;
}

/** Numenta's log scale: 0.5 at likelihood 0.99999, so thresholds read as "how many nines". */
export function logLikelihood(likelihood: number): number {
  return Math.log(1.0000000001 - likelihood) / -23.02585084720009;
}

/** P(Z > z) for a standard normal, via erfc (Numerical Recipes' Chebyshev fit, relative error < 1.2e-7). */
export function normalTail(z: number): number {
  return 0.5 * erfc(z / Math.SQRT2);
}

function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z - 1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}
