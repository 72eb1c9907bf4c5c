import { Engine } from '../engine/engine';
import type { EngineOptions } from '../engine/options';
import { loadModel, type Model } from '../model/load-model';
import type { Detector, DetectorOutput, FileContext } from './detector';
import { ErrorCalibration, type CalibrationOptions } from './error-calibration';

export interface LstmDetectorOptions {
  /** The model file; one device per NAB file. */
  modelPath: string;
  engine?: EngineOptions;
  /** How forecast errors become scores; defaults in CALIBRATION_DEFAULTS (error-calibration.ts). */
  calibration?: Partial<CalibrationOptions>;
}

/**
 * edgelstm's own detector on NAB: the engine exactly as a live device runs
 * it (one device, readings in order, state restarted per file) makes the
 * one-step forecasts; ErrorCalibration turns each reading's forecast error
 * into NAB's score (error scale, Numenta likelihood and log scale, range
 * novelty, rest period after an alarm).
 */
export class LstmDetector implements Detector {
  readonly name = 'edgelstm-lstm';
  readonly #model: Model;
  readonly #options: EngineOptions;
  readonly #calibration: ErrorCalibration;
  #engine: Engine;
  #file = 'file';

  private constructor(model: Model, options: EngineOptions, calibration: ErrorCalibration) {
    this.#model = model;
    this.#options = { maxDelayMs: 0, ...options };
    this.#calibration = calibration;
    this.#engine = new Engine(model, this.#options);
  }

  static async create(o: LstmDetectorOptions): Promise<LstmDetector> {
    // Options are checked before the model is loaded: a bad one costs nothing.
    const calibration = new ErrorCalibration(o.calibration);
    return new LstmDetector(await loadModel(o.modelPath), o.engine ?? {}, calibration);
  }

  get modelId(): string {
    return this.#model.id;
  }

  get calibration(): Readonly<CalibrationOptions> {
    return this.#calibration.options;
  }

  async reset(context?: FileContext): Promise<void> {
    await this.#engine.close();
    this.#engine = new Engine(this.#model, this.#options);
    this.#calibration.reset();
    this.#file = context?.file ?? 'file';
  }

  async step(timestampMs: number, value: number): Promise<DetectorOutput> {
    const r = await this.#engine.push({ device: this.#file, ts: timestampMs, values: [value] });
    const out: DetectorOutput = { score: this.#calibration.score(value, r.error === null ? null : r.error[0]!) };
    if (r.forecast.length > 0) out.forecast = r.forecast[0]!;
    return out;
  }

  async close(): Promise<void> {
    await this.#engine.close();
    await this.#model.release();
  }
}
