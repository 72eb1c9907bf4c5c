import type { AuxLayout } from './aux-layout';
import { featureMean, featureStd } from '../model/normalizer';
import type { Result } from './sample';
import type { Model } from '../model/load-model';
import type { DeviceStateStore } from '../state/store';
import type { LearnOptions } from '../learn/learn-options';
import { Learner } from '../learn/learner';

/** What the engine tells learning about each stepped reading. */
export interface SteppedReading {
  readonly seq: number;
  readonly slot: number;
}

/**
 * The engine's side of continual learning: triggers fine-tunes every
 * `every` readings stepped (and every `intervalMs`), feeds stepped readings to the window collector, and, in
 * deterministic mode counts readings as they enter the engine's queues and
 * holds those that arrive after a trigger until its fine-tune is over, so the swap happens at exactly that reading whatever
 * the timing. `P` is the engine's queued-reading record.
 */
export class EngineLearning<P> {
  readonly learner: Learner;
  readonly #opts: LearnOptions;
  readonly #held: P[] = [];
  #heldHead = 0;
  #barrier = false;
  #barrierRun: Promise<void> | undefined;
  #count = 0;
  #stepped = 0;
  #timer: NodeJS.Timeout | undefined;
  readonly #mean: Float64Array;
  readonly #std: Float64Array;

  constructor(model: Model, opts: LearnOptions, workerFile?: string) {
    this.learner = new Learner(model, opts, workerFile);
    this.#opts = opts;
    this.#mean = new Float64Array(model.dims.T);
    this.#std = new Float64Array(model.dims.T);
    if (opts.intervalMs > 0) {
      this.#timer = setInterval(() => void this.learner.round(), opts.intervalMs);
      this.#timer.unref();
    }
  }

  /** Readings held back behind a deterministic swap point. */
  get held(): number {
    return this.#held.length - this.#heldHead;
  }

  /** A fine-tune the stream is waiting for (deterministic mode). */
  get waiting(): boolean {
    return this.#barrier;
  }

  /** At submit: whether the reading must wait behind a swap point (then it is kept here, in order). */
  hold(p: P): boolean {
    if (!this.#barrier && this.held === 0) return false;
    this.#held.push(p);
    return true;
  }

  /** A reading enters the engine's queues: returns its sequence number; may trigger a fine-tune. */
  enqueued(device: string): number {
    this.learner.collector.admit(device);
    const seq = ++this.#count;
    if (this.#opts.deterministic && seq % this.#opts.every === 0) this.#barrier = true;
    return seq;
  }

  /**
   * Called when the engine has stepped everything queued. At a swap point,
   * runs the fine-tune, hands its model to `swap`, then re-admits held
   * readings through `enqueue` (up to the next swap point). Undefined when
   * there is nothing to wait for.
   */
  drain(swap: (m: Model) => void, enqueue: (p: P) => void): Promise<void> | undefined {
    if (!this.#barrier) return undefined;
    this.#barrierRun ??= this.learner.round().then(() => {
      const m = this.learner.takeReady();
      if (m) swap(m);
      this.#barrier = false;
      while (!this.#barrier && this.held > 0) {
        const p = this.#held[this.#heldHead]!;
        this.#held[this.#heldHead++] = undefined as P;
        enqueue(p);
      }
      if (this.held === 0) {
        this.#held.length = 0;
        this.#heldHead = 0;
      }
      this.#barrierRun = undefined;
    });
    return this.#barrierRun;
  }

  /** Feeds one batch's stepped readings to the collector: inputs from the batch's x, target statistics from the store. */
  observe(items: readonly SteppedReading[], results: readonly Result[], x: Float32Array, model: Model, store: DeviceStateStore, layout: AuxLayout): void {
    const collector = this.learner.collector;
    const { F, T } = model.dims;
    const norm = model.metadata.normalization;
    const tIdx = model.targetIndex;
    const aux = store.aux;
    for (let i = 0; i < results.length; i++) {
      const r = results[i]!;
      if (!collector.has(r.device)) continue;
      const off = items[i]!.slot * layout.width + layout.norm;
      for (let t = 0; t < T; t++) {
        this.#mean[t] = featureMean(norm, aux, off, tIdx[t]!);
        this.#std[t] = featureStd(norm, aux, off, F, tIdx[t]!);
      }
      const usable = !r.warmup && !r.anomaly && r.score !== null;
      collector.observe(r.device, items[i]!.seq, usable, x, i * F, r.values, tIdx, this.#mean, this.#std);
    }
    // Without a swap point the count is of readings stepped, not queued: a backlog must not fire triggers the worker cannot keep up with.
    const before = this.#stepped;
    this.#stepped += results.length;
    if (!this.#opts.deterministic && Math.floor(this.#stepped / this.#opts.every) > Math.floor(before / this.#opts.every)) void this.learner.round();
  }

  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    await this.learner.close();
  }
}
