/**
 * The control for the LSTM detector: the same error calibration
 * (error-calibration.ts, same defaults) on the naive persistence forecast
 * (next = last). The difference between this and `lstm` on NAB is what the
 * LSTM's forecasts add; the calibration's share is this detector's score.
 */
import type { Detector, DetectorOutput } from './detector';
import { ErrorCalibration, type CalibrationOptions } from './error-calibration';

export class PersistenceDetector implements Detector {
  readonly name = 'persistence-calibrated';
  readonly #calibration: ErrorCalibration;
  #last = NaN;
  // Reused: step() is called once per row.
  readonly #out: DetectorOutput = { score: 0, forecast: 0 };

  constructor(calibration: Partial<CalibrationOptions> = {}) {
    this.#calibration = new ErrorCalibration(calibration);
  }

  reset(): void {
    this.#calibration.reset();
    this.#last = NaN;
  }

  step(_timestampMs: number, value: number): DetectorOutput {
    this.#out.score = this.#calibration.score(value, Number.isNaN(this.#last) ? null : value - this.#last);
    this.#out.forecast = value;
    this.#last = value;
    return this.#out;
  }
}
