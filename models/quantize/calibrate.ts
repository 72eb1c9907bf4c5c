import { CLIP } from '../../runtime/model/normalizer';
import type { Normalization } from '../../runtime/model/metadata';
import { referenceForward } from '../../runtime/backend/reference-lstm';
import type { LstmWeights } from '../../runtime/contract/weights';
import { prepareSeries, type RawSeries } from '../toolchain/series-data';
import type { ActivationScales } from './quantize-static';

/** Where the activation scales came from, written into edgelstm.quantization.calibration. */
export interface CalibrationSummary {
  readonly source: string;
  readonly series: number;
  readonly steps: number;
  /** Largest |x| of each normalized feature seen (capped at the engine's clip). */
  readonly xMax: number[];
  /** Largest |h| of each layer seen. */
  readonly hMax: number[];
}

export interface Calibration {
  readonly scales: ActivationScales;
  readonly summary: CalibrationSummary;
}

/** Without data: the bounds the engine guarantees (normalized inputs clipped to ±CLIP, |h| < 1). */
export function boundCalibration(features: number, layers: number): Calibration {
  const xMax = new Array<number>(features).fill(CLIP);
  const hMax = new Array<number>(layers).fill(1);
  return { scales: scalesFor(xMax, hMax), summary: { source: 'bounds (no calibration data)', series: 0, steps: 0, xMax, hMax } };
}

/** At most this many steps are replayed (spread over the series): ranges settle long before. */
export const MAX_CALIBRATION_STEPS = 200_000;

/**
 * Calibrates the activation scales on recorded series: each is normalized
 * exactly as the engine does (prepareSeries, the engine's normalizer), then
 * replayed through the float32 model (the reference LSTM) from a zero state,
 * and the largest |x| per feature and |h| per layer become the ranges that
 * map to ±127. A reading beyond the calibrated range saturates at ±127 (a
 * clip, the same for every device whatever its batch-mates).
 */
export function calibrate(w: LstmWeights, norm: Normalization, series: readonly RawSeries[], source: string): Calibration {
  const F = w.inputSize;
  const H = w.hiddenSize;
  const L = w.layers.length;
  const xMax = new Array<number>(F).fill(0);
  const hMax = new Array<number>(L).fill(0);
  const perSeries = Math.max(2, Math.floor(MAX_CALIBRATION_STEPS / Math.max(1, series.length)));
  let steps = 0;
  for (const raw of series) {
    const p = prepareSeries(raw, norm, [0]);
    const rows = Math.min(p.rows, perSeries);
    const h = new Float32Array(L * H);
    const c = new Float32Array(L * H);
    const x = new Float32Array(F);
    for (let t = 0; t < rows; t++) {
      for (let f = 0; f < F; f++) {
        x[f] = p.x[t * F + f]!;
        xMax[f] = Math.max(xMax[f]!, Math.abs(x[f]!));
      }
      const out = referenceForward(w, x, h, c, 1, 1);
      h.set(out.hn);
      c.set(out.cn);
      for (let l = 0; l < L; l++) for (let j = 0; j < H; j++) hMax[l] = Math.max(hMax[l]!, Math.abs(h[l * H + j]!));
      steps++;
    }
  }
  // A feature or layer that never moved gets the engine's bound rather than a zero range.
  const xm = xMax.map((m) => (m > 0 ? Math.min(m, CLIP) : CLIP));
  const hm = hMax.map((m) => (m > 0 ? Math.min(m, 1) : 1));
  return { scales: scalesFor(xm, hm), summary: { source, series: series.length, steps, xMax: xm, hMax: hm } };
}

function scalesFor(xMax: readonly number[], hMax: readonly number[]): ActivationScales {
  return { x: xMax.map((m) => Math.fround(m / 127)), h: hMax.map((m) => Math.fround(m / 127)) };
}
