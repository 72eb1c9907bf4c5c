import { EdgeLstmError, SampleError, type ErrorCode } from '../errors';
import { EngineLearning } from './learning';
import type { LearnCounters, LearnEvent } from '../learn/learner';
import type { Model } from '../model/load-model';
import { MemoryStateStore } from '../state/memory-store';
import { readSnapshotFile, writeSnapshotFile } from '../state/snapshot';
import type { DeviceStateStore } from '../state/store';
import { auxLayout, type AuxLayout } from './aux-layout';
import { resolveEngineOptions, type EngineOptions, type ResolvedEngineOptions } from './options';
import { validateSample, type Result, type Sample } from './sample';
import { servingShape, type ServingShape } from './serving-shape';
import type { BatchResults } from './batch-results';
import { BatchScratch, stepBatch } from './step-batch';
import { DeviceQueues, inSlotOrder, type Queued } from './device-queues';

/** A queued sample (queuing allocates nothing beyond this record: device-queues.ts). */
interface Pending extends Queued<Pending> {
  /** A SampleCallback (submit, push) or, with `columnar`, a ColumnarCallback (submitColumnar). */
  done: SampleCallback | ColumnarCallback;
  columnar: boolean;
  /** Order of entry into the queues (counted only with learning on). */
  seq: number;
}

/** Called once per accepted sample, with its result or the error that stopped it. */
export type SampleCallback = (err: Error | null, result: Result | undefined) => void;

/**
 * Called once per accepted sample of submitColumnar: with its batch's results
 * and its row in them, or with the error that stopped it (batch undefined).
 * The batch is the engine's and is overwritten by the next one: read it inside
 * the callback (`batch.result(index)` builds the Result submit would give).
 */
export type ColumnarCallback = (err: Error | null, batch: BatchResults | undefined, index: number) => void;

export interface EngineCounters {
  accepted: number;
  rejected: number;
  rejectedByCode: Partial<Record<ErrorCode, number>>;
  results: number;
  anomalies: number;
  batches: number;
  evicted: number;
  expired: number;
  gapResets: number;
  /** Failed ONNX Runtime calls; their samples were rejected and no state changed. */
  failedBatches: number;
}

export interface BatchInfo {
  size: number;
  /** Wall time of the batch, ms. */
  ms: number;
}

/**
 * The streaming engine: keeps every device's LSTM state and steps devices in
 * micro-batches, one ONNX Runtime call per batch. Samples of one device are
 * stepped in arrival order and a device appears at most once per batch.
 */
export class Engine {
  /** The model the engine was made with; snapshots are keyed by it. */
  readonly model: Model;
  readonly options: ResolvedEngineOptions;
  readonly counters: EngineCounters = {
    accepted: 0, rejected: 0, rejectedByCode: {}, results: 0, anomalies: 0, batches: 0, evicted: 0, expired: 0, gapResets: 0, failedBatches: 0,
  };
  /** Called after every batch (for metrics). */
  onBatch: ((info: BatchInfo) => void) | undefined;
  /** Called when a device's state is dropped to make room (LRU) or after idle time-to-live, so callers can drop what they keep per device. */
  onForget: ((device: string, why: 'evicted' | 'expired') => void) | undefined;
  /** What one reading holds and what is scored: the model's features, or the `features` option's (channel-independent). */
  readonly shape: ServingShape;
  readonly #store: DeviceStateStore;
  readonly #layout: AuxLayout;
  readonly #scratch: BatchScratch;
  readonly #maxBatch: number;
  // Per-device FIFO queues and the round-robin of devices with samples waiting.
  readonly #queues = new DeviceQueues<Pending>();
  #timer: NodeJS.Timeout | undefined;
  #immediate: NodeJS.Immediate | undefined;
  #running: Promise<void> | undefined;
  #ttlTimer: NodeJS.Timeout | undefined;
  #closed = false;
  #idleWaiters: (() => void)[] = [];
  readonly #sortKeys: Float64Array;
  /** The model stepping now: `model`, or a fine-tune of it swapped in by learning. */
  #active: Model;
  readonly #learning: EngineLearning<Pending> | undefined;
  /** Called after each fine-tune (swapped in, rejected or failed). */
  onLearn: ((e: LearnEvent) => void) | undefined;

  constructor(model: Model, options: EngineOptions = {}, store?: DeviceStateStore) {
    this.model = model;
    this.#active = model;
    this.options = resolveEngineOptions(options);
    this.shape = servingShape(model, this.options.features);
    const { H, L, F, T } = this.shape;
    this.#layout = auxLayout(model.metadata.normalization, F, T);
    // A GRU keeps no cell state: its devices hold h only.
    const cellWidth = model.cell === 'gru' ? 0 : L * H;
    this.#store = store ?? new MemoryStateStore({ stateWidth: L * H, cellWidth, auxWidth: this.#layout.width }, { maxDevices: this.options.maxDevices });
    const sl = this.#store.layout;
    if (sl.stateWidth !== L * H || (sl.cellWidth ?? sl.stateWidth) !== cellWidth || sl.auxWidth !== this.#layout.width) {
      throw new EdgeLstmError('E_CONFIG', `state store layout ${sl.stateWidth}/${sl.cellWidth ?? sl.stateWidth}/${sl.auxWidth} does not fit the model (${L * H}/${cellWidth}/${this.#layout.width}, h/c/bookkeeping)`, { field: 'store' });
    }
    this.#store.onEvict = (device) => {
      this.counters.evicted++;
      this.#queues.forget(device);
      this.#learning?.learner.collector.forget(device);
      this.onForget?.(device, 'evicted');
    };
    // A batch never holds more devices than the store can keep, or one would evict a batch-mate.
    this.#maxBatch = Math.min(this.options.maxBatch, this.#store.maxDevices);
    this.#scratch = new BatchScratch(this.#maxBatch, this.shape, this.#layout.expected - this.#layout.norm, model.cell !== 'gru', this.options.horizon);
    this.#sortKeys = new Float64Array(this.#maxBatch);
    if (this.options.learn !== null) {
      if (this.options.features !== undefined) throw new EdgeLstmError('E_CONFIG', 'option learn does not yet fine-tune a model served channel-independently (option features)', { field: 'learn', expected: 'learn without features', found: 'both' });
      this.#learning = new EngineLearning<Pending>(model, this.options.learn);
      this.#learning.learner.onEvent = (e) => this.onLearn?.(e);
    }
    if (this.options.idleTtlMs > 0) {
      this.#ttlTimer = setInterval(() => void this.expireIdle(), Math.min(60_000, Math.max(10, this.options.idleTtlMs / 4)));
      this.#ttlTimer.unref();
    }
  }

  /** Samples accepted and not yet stepped. */
  get pending(): number {
    return this.#queues.pending + (this.#learning?.held ?? 0);
  }

  /** The model stepping now (results carry its id): `model`, or with learning on, its latest fine-tune. */
  get activeModel(): Model {
    return this.#active;
  }

  /** Continual learning's counters; undefined when learning is off. */
  get learnCounters(): Readonly<LearnCounters> | undefined {
    return this.#learning?.learner.counters;
  }

  /** Bytes continual learning holds on this thread (windows, parameters); 0 when off. */
  get learnBytes(): number {
    return this.#learning?.learner.bytes ?? 0;
  }

  /** Devices holding state. */
  get devices(): number {
    return this.#store.size;
  }

  get store(): DeviceStateStore {
    return this.#store;
  }

  /**
   * Queues a sample; resolves with its result once its batch ran. A bad
   * sample rejects at once with a SampleError (counted; no state touched).
   */
  push(sample: Sample): Promise<Result> {
    return new Promise<Result>((resolve, reject) => {
      const err = this.submit(sample, (e, r) => (e ? reject(e) : resolve(r!)));
      if (err) reject(err);
    });
  }

  /**
   * The allocation-lean form of push, for high rates: `done` is called with
   * the result (pass one shared function for all samples to avoid a closure
   * per sample). A bad sample is returned as a SampleError at once, counted,
   * and `done` is not called; undefined means accepted.
   */
  submit(sample: Sample, done: SampleCallback): EdgeLstmError | undefined {
    return this.#accept(sample, done, false);
  }

  /**
   * submit without a Result object per sample: `done` gets the batch's
   * columnar results and the sample's row (ColumnarCallback). Same queueing,
   * ordering and errors as submit; for the highest rates.
   */
  submitColumnar(sample: Sample, done: ColumnarCallback): EdgeLstmError | undefined {
    return this.#accept(sample, done, true);
  }

  #accept(sample: Sample, done: SampleCallback | ColumnarCallback, columnar: boolean): EdgeLstmError | undefined {
    try {
      if (this.#closed) throw new EdgeLstmError('E_CLOSED', 'engine is closed');
      validateSample(sample, this.shape.features);
    } catch (e) {
      this.#countRejected((e as EdgeLstmError).code ?? 'E_BAD_VALUE');
      return e as EdgeLstmError;
    }
    this.counters.accepted++;
    const p: Pending = { sample, ts: sample.ts ?? Date.now(), slot: -1, done, columnar, seq: 0, next: undefined };
    if (this.#learning?.hold(p) !== true) this.#enqueue(p);
    this.#schedule();
    return undefined;
  }

  #enqueue(p: Pending): void {
    if (this.#learning !== undefined) p.seq = this.#learning.enqueued(p.sample.device);
    this.#queues.enqueue(p);
  }

  /** Resolves when everything pushed so far has been stepped. */
  async flush(): Promise<void> {
    if (this.pending === 0 && !this.#running && !this.#learning?.waiting) return;
    await new Promise<void>((resolve) => {
      this.#idleWaiters.push(resolve);
      this.#schedule(true);
    });
  }

  /** Forgets one device's state (or every device's, with 'all'), between batches. */
  async reset(device: string | 'all'): Promise<boolean> {
    await this.#exclusive();
    if (device === 'all') {
      this.#store.resetAll();
      this.#learning?.learner.collector.forgetAll();
      return true;
    }
    this.#learning?.learner.collector.forget(device);
    return this.#store.reset(device);
  }

  /** Writes all device state to `path` atomically, between batches. Returns bytes written. */
  async saveState(path: string): Promise<number> {
    await this.#exclusive();
    return writeSnapshotFile(path, this.#store, { fingerprint: this.model.fingerprint, model: this.model.id });
  }

  /** Restores state saved under the same model; throws E_SNAPSHOT (and changes nothing) otherwise. */
  async loadState(path: string): Promise<number> {
    await this.#exclusive();
    return readSnapshotFile(path, this.#store, { fingerprint: this.model.fingerprint, model: this.model.id });
  }

  /** Evicts devices idle longer than idleTtlMs; returns their ids. */
  async expireIdle(now = Date.now()): Promise<string[]> {
    if (this.options.idleTtlMs <= 0) return [];
    await this.#exclusive();
    const gone = this.#store.evictIdle(now, this.options.idleTtlMs);
    this.counters.expired += gone.length;
    for (const d of gone) {
      this.#queues.forget(d);
      this.#learning?.learner.collector.forget(d);
      this.onForget?.(d, 'expired');
    }
    return gone;
  }

  /** Steps what is queued, then refuses new samples. Does not release the model: the caller owns it. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.flush();
    this.#closed = true;
    if (this.#ttlTimer) clearInterval(this.#ttlTimer);
    if (this.#learning !== undefined) {
      await this.#learning.close();
      if (this.#active !== this.model) await this.#active.release();
      this.#active = this.model;
    }
  }

  #countRejected(code: ErrorCode): void {
    this.counters.rejected++;
    this.counters.rejectedByCode[code] = (this.counters.rejectedByCode[code] ?? 0) + 1;
  }

  #schedule(now = false): void {
    if (this.#running || this.#immediate) return;
    if (this.#queues.pending === 0) {
      const waiting = this.#learning?.drain(
        (m) => this.#swapIn(m),
        (p) => this.#enqueue(p),
      );
      if (waiting !== undefined) {
        this.#running = waiting.finally(() => {
          this.#running = undefined;
          this.#schedule();
        });
        return;
      }
      this.#notifyIdle();
      return;
    }
    if (now || this.#queues.pending >= this.#maxBatch || this.options.maxDelayMs === 0 || this.#idleWaiters.length > 0) {
      if (this.#timer) clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#immediate = setImmediate(() => {
        this.#immediate = undefined;
        this.#runBatch();
      });
    } else if (!this.#timer) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#runBatch();
      }, this.options.maxDelayMs);
    }
  }

  #runBatch(): void {
    if (this.#running || this.#queues.pending === 0) return;
    const learned = this.#learning?.learner.takeReady();
    if (learned !== undefined) this.#swapIn(learned);
    const taken = this.#queues.take(this.#maxBatch, this.#store, Date.now());
    this.#running = this.#process(taken).finally(() => {
      this.#running = undefined;
      this.#schedule();
    });
  }

  async #process(arrived: Pending[]): Promise<void> {
    const started = performance.now();
    const taken = inSlotOrder(arrived, this.#store.size, this.#sortKeys);
    try {
      const { results, gapResets } = await stepBatch(
        { model: this.#active, store: this.#store, opts: this.options, layout: this.#layout, scratch: this.#scratch, shape: this.shape },
        taken,
      );
      this.counters.batches++;
      this.counters.gapResets += gapResets;
      const n = results.size;
      this.counters.results += n;
      const anomaly = results.columns.anomaly;
      for (let i = 0; i < n; i++) if (anomaly[i] === 1) this.counters.anomalies++;
      // Result objects are built only for callers that take them (and for learning, which reads them).
      let objects: Result[] | undefined;
      if (this.#learning !== undefined) {
        objects = new Array<Result>(n);
        for (let i = 0; i < n; i++) objects[i] = results.result(i);
        this.#learning.observe(taken, objects, this.#scratch.x, this.#active, this.#store, this.#layout);
      }
      for (let i = 0; i < n; i++) {
        const p = taken[i]!;
        if (p.columnar) (p.done as ColumnarCallback)(null, results, i);
        else (p.done as SampleCallback)(null, objects !== undefined ? objects[i]! : results.result(i));
      }
    } catch (e) {
      this.counters.failedBatches++;
      const err = new EdgeLstmError('E_MODEL', `inference failed; ${taken.length} samples not stepped: ${(e as Error).message}`);
      for (const p of taken) {
        if (p.columnar) (p.done as ColumnarCallback)(err, undefined, -1);
        else (p.done as SampleCallback)(err, undefined);
      }
    }
    this.onBatch?.({ size: taken.length, ms: performance.now() - started });
  }

  /** Between batches: a fine-tune of the same architecture replaces the model stepping now; device states carry over. */
  #swapIn(m: Model): void {
    const prev = this.#active;
    this.#active = m;
    if (prev !== this.model) void prev.release();
  }

  async #exclusive(): Promise<void> {
    while (this.#running) await this.#running;
  }

  #notifyIdle(): void {
    const w = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const r of w) r();
  }
}

export { SampleError };
