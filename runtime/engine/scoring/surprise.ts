/**
 * Surprise on a scale that does not saturate: "nines", i.e. -log10 of a tail
 * probability (4 nines = likelihood 0.9999). A likelihood computed as
 * `1 - tail` reaches exactly 1 in float64 near 8 standard deviations, after
 * which a strong anomaly and an overwhelming one look the same and no
 * threshold can tell them apart. Here evidence is added up in nines and
 * mapped to a likelihood that keeps Numenta's meaning below 8 nines and
 * approaches 14 nines (still below 1 in float64) beyond, so the order of the
 * evidence survives into the published number.
 */

import { normalTail } from '../likelihood';

const LN10 = Math.LN10;
const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

/** -log10 P(Z > z) for a standard normal, accurate in both the body and the far tail. */
export function tailNines(z: number, tail: (z: number) => number): number {
  if (z < 6) return -Math.log10(tail(z));
  return millsNines(z);
}

/** tailNines with normalTail called directly (the detector's per-reading path: a call the compiler can inline). */
export function normalTailNines(z: number): number {
  if (z < 6) return -Math.log10(normalTail(z));
  return millsNines(z);
}

function millsNines(z: number): number {
  // Mills ratio asymptotic: P(Z > z) ~ phi(z) / z * (1 - 1/z^2 + 3/z^4).
  const corr = 1 - 1 / (z * z) + 3 / (z * z * z * z);
  return (0.5 * z * z + HALF_LOG_2PI + Math.log(z) - Math.log(corr)) / LN10;
}

/** Nines kept as they are up to this many; beyond, compressed towards MAX_NINES. */
const LINEAR_NINES = 8;
const MAX_NINES = 14;

/** A likelihood in [0, 1) from nines, strictly increasing, 1 - 10^-nines up to 8 nines. */
export function ninesToLikelihood(nines: number): number {
  if (!(nines > 0)) return 0;
  const n = nines <= LINEAR_NINES ? nines : LINEAR_NINES + (MAX_NINES - LINEAR_NINES) * (1 - Math.exp(-(nines - LINEAR_NINES) / (MAX_NINES - LINEAR_NINES)));
  return 1 - 10 ** -n;
}

/** The inverse of ninesToLikelihood (for thresholds given as likelihoods). */
export function likelihoodToNines(likelihood: number): number {
  if (!(likelihood > 0)) return 0;
  if (likelihood >= 1) return Infinity;
  const n = -Math.log10(1 - likelihood);
  if (n <= LINEAR_NINES) return n;
  const span = MAX_NINES - LINEAR_NINES;
  const frac = (n - LINEAR_NINES) / span;
  return frac >= 1 ? Infinity : LINEAR_NINES - span * Math.log(1 - frac);
}
