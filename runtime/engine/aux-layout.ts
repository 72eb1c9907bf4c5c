import type { Normalization } from '../model/metadata';
import { likelihoodWidth, type LikelihoodOptions } from './likelihood';
import { statsWidth } from './normalizer';

/**
 * Offsets of a device's bookkeeping in the store's Float64 `aux` row:
 * steps taken since reset, last timestamp, normalization statistics, the
 * forecast for the next sample (original units), its log-variance, and the
 * likelihood record.
 */
export interface AuxLayout {
  readonly steps: 0;
  readonly lastTs: 1;
  readonly norm: number;
  readonly expected: number;
  readonly logvar: number;
  readonly likelihood: number;
  readonly width: number;
}

export function auxLayout(n: Normalization, features: number, targets: number, lik: LikelihoodOptions): AuxLayout {
  const norm = 2;
  const expected = norm + statsWidth(n, features);
  const logvar = expected + targets;
  const likelihood = logvar + targets;
  return { steps: 0, lastTs: 1, norm, expected, logvar, likelihood, width: likelihood + likelihoodWidth(lik) };
}
