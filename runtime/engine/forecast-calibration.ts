/**
 * Per-device recalibration of the model's one-step forecast. The shipped
 * generic model was trained on other series; on a given device its step from
 * the last reading may be too bold (it overshoots a noisy series) or too timid.
 * Each target keeps a one-parameter least-squares fit of the actual step
 * (reading minus the last reading) on the model's step, exponentially
 * weighted over about `calibrationWindow` readings, learned only outside
 * episodes (an anomaly never teaches it); the published forecast is the last
 * reading plus the fitted share of the model's step (0 = persistence, 1 =
 * the model as it is, capped at 1.5). Deterministic, a handful of floats in
 * the device's aux row, nothing allocated per reading.
 *
 * Off by default (`scoring.calibrationWindow` 0): on, the published forecast
 * is no longer the model's output, which the streaming-equivalence and
 * export-parity properties (DESIGN.md section 3) are stated for. The
 * one-step forecast only: a rollout (`horizon` > 1) stays the model's. NAB
 * figures in runtime/eval/PROTOCOL.md rows 43-44.
 */

// Per target: the model's raw forecast, the reading it was made from, the weighted sums, readings learned.
const RAW = 0;
const LAST = 1;
const SXY = 2;
const SXX = 3;
const N = 4;
export const CALIBRATION_WIDTH = 5;
/** Readings learned before the fit is used (until then the model's forecast as it is). */
const SETTLE = 20;
const MAX_SHARE = 1.5;

/**
 * Stores the model's forecast `raw` made from reading `last` at `a[c ..]`; returns the recalibrated forecast.
 * Off (`window` 0) it stores nothing: turned on by a reload, a device's first fold then sees a zero step
 * (no weight in the fit) and the fit settles over the next readings.
 */
export function calibrate(window: number, a: Float64Array, c: number, last: number, raw: number): number {
  if (window <= 0) return raw;
  a[c + RAW] = raw;
  a[c + LAST] = last;
  return last + share(a, c) * (raw - last);
}

/** The fitted share of the model's step. */
export function share(a: Float64Array, c: number): number {
  const sxx = a[c + SXX]!;
  if (a[c + N]! < SETTLE || !(sxx > 0)) return 1;
  const w = a[c + SXY]! / sxx;
  return w > MAX_SHARE ? MAX_SHARE : w > 0 ? w : 0;
}

/** Folds the reading `actual` that the stored forecast was for into the fit (a normal reading). */
export function learnCalibration(window: number, a: Float64Array, c: number, actual: number): void {
  if (window <= 0) return;
  const x = a[c + RAW]! - a[c + LAST]!;
  const y = actual - a[c + LAST]!;
  if (!Number.isFinite(x * y) || !Number.isFinite(x * x)) return;
  const n = a[c + N]! + 1;
  const k = 1 / Math.min(n, window);
  a[c + SXY] = a[c + SXY]! + k * (x * y - a[c + SXY]!);
  a[c + SXX] = a[c + SXX]! + k * (x * x - a[c + SXX]!);
  a[c + N] = n;
}
