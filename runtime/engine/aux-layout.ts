import type { Normalization } from '../model/metadata';
import { statsWidth } from '../model/normalizer';
import { scoringWidth } from './scoring/device-scorer';
import { CALIBRATION_WIDTH } from './forecast-calibration';

/**
 * Offsets of a device's bookkeeping in the store's Float64 `aux` row:
 * steps taken since reset, last timestamp, normalization statistics, the
 * forecast for the next sample (original units), its log-variance, the
 * forecast's recalibration (forecast-calibration.ts), and the detector's
 * record (scoring/device-scorer.ts).
 */
export interface AuxLayout {
  readonly steps: 0;
  readonly lastTs: 1;
  readonly norm: number;
  readonly expected: number;
  readonly logvar: number;
  readonly calibration: number;
  readonly scoring: number;
  readonly width: number;
}

export function auxLayout(n: Normalization, features: number, targets: number): AuxLayout {
  const norm = 2;
  const expected = norm + statsWidth(n, features);
  const logvar = expected + targets;
  const calibration = logvar + targets;
  const scoring = calibration + targets * CALIBRATION_WIDTH;
  return { steps: 0, lastTs: 1, norm, expected, logvar, calibration, scoring, width: scoring + scoringWidth(targets) };
}
