import { Engine } from '../engine/engine';
import type { EngineOptions } from '../engine/options';
import type { Model } from '../model/load-model';
import type { Detector, DetectorOutput, FileContext } from './detector';

/**
 * The product's detector on NAB: the engine exactly as `run` and `replay`
 * run it (one device per file, readings in order, state restarted per file,
 * the engine's default options), whatever forecaster the model is: the LSTM
 * or a control (control-models.ts). The NAB score is the result's
 * `likelihood`; the `flag` is its `anomaly`, scored as it is.
 */
export class EngineDetector implements Detector {
  readonly name: string;
  readonly model: Model;
  readonly #options: EngineOptions;
  readonly #ownsModel: boolean;
  #engine: Engine;
  #file = 'file';

  constructor(name: string, model: Model, options: EngineOptions = {}, ownsModel = true) {
    this.name = name;
    this.model = model;
    // Batching windows change no result (batch invariance); one file streams alone, so none is waited for.
    this.#options = { ...options, maxDelayMs: 0 };
    this.#ownsModel = ownsModel;
    this.#engine = new Engine(model, this.#options);
  }

  get engine(): Engine {
    return this.#engine;
  }

  async reset(context?: FileContext): Promise<void> {
    await this.#engine.close();
    this.#engine = new Engine(this.model, this.#options);
    this.#file = context?.file ?? 'file';
  }

  async step(timestampMs: number, value: number): Promise<DetectorOutput> {
    const r = await this.#engine.push({ device: this.#file, ts: timestampMs, values: [value] });
    const out: DetectorOutput = { score: r.likelihood ?? 0, flag: r.anomaly };
    if (r.forecast.length > 0) out.forecast = r.forecast[0]!;
    return out;
  }

  async close(): Promise<void> {
    await this.#engine.close();
    if (this.#ownsModel) await this.model.release();
  }
}
