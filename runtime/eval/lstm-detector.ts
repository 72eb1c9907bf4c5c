import { Engine } from '../engine/engine';
import type { EngineOptions } from '../engine/options';
import { logLikelihood } from '../engine/likelihood';
import { loadModel, type Model } from '../model/load-model';
import type { Detector, DetectorOutput, FileContext } from './detector';

export interface LstmDetectorOptions {
  /** The model file; one device per NAB file. */
  modelPath: string;
  engine?: EngineOptions;
}

/**
 * edgelstm's own detector on NAB: the engine exactly as a live device runs
 * it (one device, readings in order, state restarted per file). The score
 * handed to NAB is Numenta's log-scaled likelihood, which spreads the values
 * near 1 where the threshold sweep has to choose.
 */
export class LstmDetector implements Detector {
  readonly name = 'edgelstm-lstm';
  readonly #model: Model;
  readonly #options: EngineOptions;
  #engine: Engine;
  #file = 'file';

  private constructor(model: Model, options: EngineOptions) {
    this.#model = model;
    this.#options = { maxDelayMs: 0, ...options };
    this.#engine = new Engine(model, this.#options);
  }

  static async create(o: LstmDetectorOptions): Promise<LstmDetector> {
    return new LstmDetector(await loadModel(o.modelPath), o.engine ?? {});
  }

  get modelId(): string {
    return this.#model.id;
  }

  async reset(context?: FileContext): Promise<void> {
    await this.#engine.close();
    this.#engine = new Engine(this.#model, this.#options);
    this.#file = context?.file ?? 'file';
  }

  async step(timestampMs: number, value: number): Promise<DetectorOutput> {
    const r = await this.#engine.push({ device: this.#file, ts: timestampMs, values: [value] });
    const out: DetectorOutput = { score: r.likelihood === null ? 0 : Math.min(1, Math.max(0, logLikelihood(r.likelihood))) };
    if (r.forecast.length > 0) out.forecast = r.forecast[0]!;
    return out;
  }

  async close(): Promise<void> {
    await this.#engine.close();
    await this.#model.release();
  }
}
