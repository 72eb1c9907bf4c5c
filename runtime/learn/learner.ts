import { EdgeLstmError } from '../errors';
import { loadModel, type Model } from '../model/load-model';
import type { FineTuneJob, FineTuneOutcome } from './fine-tune';
import { FineTuneThread, WORKER_FILE } from './fine-tune-thread';
import type { LearnOptions } from './learn-options';
import { ParamLayout, type NetShape } from './param-layout';
import { WindowCollector } from './window-collector';

export interface LearnCounters {
  /** Fine-tunes run (each one worker job). */
  rounds: number;
  /** Fine-tunes swapped in. */
  swapped: number;
  /** Fine-tunes that finished but did not predict the held-out windows better: the model stayed. */
  rejected: number;
  /** Fine-tunes that failed (worker error or exit, model that did not load): the model stayed. */
  failed: number;
  /** Triggers with too few windows, or while a fine-tune was still running. */
  skipped: number;
}

/** What one fine-tune came to, for logs and metrics. */
export interface LearnEvent {
  readonly round: number;
  readonly outcome: 'swapped' | 'rejected' | 'failed';
  /** The model id results carry from now on (swapped), or the one that stays. */
  readonly model: string;
  readonly windows: number;
  /** Held-out loss before and after (NaN without a hold-out or on failure). */
  readonly before: number;
  readonly after: number;
  readonly ms: number;
  readonly error?: string;
}

/**
 * Continual learning of one engine's model: collects windows, runs
 * fine-tunes in the process's fine-tune thread (one at a time), and turns
 * better parameters into a loaded model of the same architecture, ready to
 * be swapped in between batches. A failed fine-tune changes nothing but a
 * counter. Learned models are named `<name>@<version>+ft<n>`.
 */
export class Learner {
  readonly options: LearnOptions;
  readonly collector: WindowCollector;
  readonly counters: LearnCounters = { rounds: 0, swapped: 0, rejected: 0, failed: 0, skipped: 0 };
  onEvent: ((e: LearnEvent) => void) | undefined;
  readonly #base: Model;
  readonly #shape: NetShape;
  readonly #thread: FineTuneThread;
  #params: Float64Array;
  #round = 0;
  #inFlight: Promise<void> | undefined;
  #ready: Model | undefined;
  #closed = false;

  constructor(base: Model, options: LearnOptions, workerFile = WORKER_FILE) {
    if (base.weights === undefined) throw new EdgeLstmError('E_CONFIG', `option learn: model ${base.id} does not expose its weights`, { field: 'learn', file: base.file });
    let w: ReturnType<NonNullable<Model['weights']>>;
    try {
      w = base.weights();
    } catch (e) {
      throw new EdgeLstmError('E_CONFIG', `option learn: cannot fine-tune model ${base.id}: ${(e as Error).message}`, { field: 'learn', file: base.file });
    }
    const { F, T } = base.dims;
    // A residual head travels in the shape: fine-tuning trains it as such and the graph keeps its skip.
    this.#shape = { inputSize: F, hiddenSize: w.hiddenSize, layers: w.layers.length, outputs: T, logvar: w.logvarHead !== undefined, ...(w.residual ? { residual: [...w.residual] } : {}) };
    this.#params = new ParamLayout(this.#shape).fromWeights(w);
    this.#base = base;
    this.options = options;
    this.#thread = FineTuneThread.shared(workerFile, options.nice);
    this.collector = new WindowCollector({ steps: options.window, windows: options.windows, devices: options.devices, features: F, targets: T });
  }

  /** A fine-tune is running. */
  get busy(): boolean {
    return this.#inFlight !== undefined;
  }

  /** Bytes the learner holds on the engine's thread: windows and two copies of the parameters. */
  get bytes(): number {
    return this.collector.bytes + 2 * this.#params.byteLength;
  }

  /** The fine-tuned model waiting to be swapped in, handed over once. */
  takeReady(): Model | undefined {
    const m = this.#ready;
    this.#ready = undefined;
    return m;
  }

  /**
   * Starts a fine-tune on the windows collected so far; resolves when it is
   * over (its model, if better, waits in takeReady). Never rejects: a
   * failure is counted. While one runs, another request is skipped.
   */
  round(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    if (this.#inFlight !== undefined || this.collector.ring.size < this.options.minWindows) {
      this.counters.skipped++;
      return this.#inFlight ?? Promise.resolve();
    }
    const run = this.#run().finally(() => {
      this.#inFlight = undefined;
    });
    this.#inFlight = run;
    return run;
  }

  async #run(): Promise<void> {
    const t0 = performance.now();
    const round = ++this.#round;
    this.counters.rounds++;
    const o = this.options;
    const snap = this.collector.ring.snapshot();
    const job: FineTuneJob = {
      round, shape: this.#shape, params: Float64Array.from(this.#params), x: snap.x, y: snap.y, count: snap.count, window: o.window,
      steps: o.steps, batchSize: o.batchSize, learningRate: o.learningRate, clipNorm: o.clipNorm, holdoutEvery: o.holdoutEvery, seed: o.seed,
    };
    const base = this.#base;
    const metadata = { ...base.metadata, quantization: { scheme: 'none' as const }, training: { fineTuneOf: base.fingerprint, round, windows: snap.count } };
    let outcome: FineTuneOutcome | undefined;
    const event = (kind: LearnEvent['outcome'], model: string, error?: string): void => {
      this.onEvent?.({ round, outcome: kind, model, windows: snap.count, before: outcome?.before ?? NaN, after: outcome?.after ?? NaN, ms: performance.now() - t0, ...(error !== undefined ? { error } : {}) });
    };
    try {
      const reply = await this.#thread.run({ job, metadata, cpuShare: o.cpuShare }, [job.x.buffer as ArrayBuffer, job.y.buffer as ArrayBuffer, job.params.buffer as ArrayBuffer]);
      if (!reply.ok) throw new Error(reply.error);
      outcome = reply.outcome;
      if (this.#closed) return;
      if (!outcome.better || reply.bytes === null) {
        this.counters.rejected++;
        event('rejected', this.#currentId());
        return;
      }
      const loaded = await loadModel(reply.bytes, { backend: base.backend.kind, sidecar: false, name: `${base.file} (fine-tune ${round})` });
      if (this.#closed) {
        await loaded.release();
        return;
      }
      this.counters.swapped++;
      const model: Model = { ...loaded, id: `${base.id}+ft${this.counters.swapped}` };
      this.#params = outcome.params;
      await this.#ready?.release();
      this.#ready = model;
      event('swapped', model.id);
    } catch (e) {
      this.counters.failed++;
      event('failed', this.#currentId(), (e as Error).message);
    }
  }

  #currentId(): string {
    return this.counters.swapped > 0 ? `${this.#base.id}+ft${this.counters.swapped}` : this.#base.id;
  }

  /** Stops learning: a fine-tune still running is not waited for (its result is dropped); a model not yet swapped in is released. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.takeReady()?.release();
  }
}
