import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Engine } from '../../runtime/engine/engine';
import type { EngineOptions } from '../../runtime/engine/options';
import { MAX_DEVICE_ID_LENGTH, type Result } from '../../runtime/engine/sample';
import { SampleError } from '../../runtime/errors';
import { loadModel, type Model } from '../../runtime/model/load-model';
import { sameArchitecture } from '../../runtime/service/reload';

export interface SharedEngineOptions {
  modelPath: string;
  backend: 'native' | 'wasm';
  threads: number;
  /** maxDevices, idleTtlMs, maxDelayMs, warmup; horizon is managed here. */
  engine: EngineOptions;
  /** Snapshot file: restored at start, written on close and every saveIntervalMs. */
  stateFile: string | undefined;
  saveIntervalMs: number;
  log: { warn(msg: string): void; info(msg: string): void };
}

/** The state of the shared engine, for the status of the nodes using it. */
export type EnginePhase = 'loading' | 'ready' | 'failed' | 'closed';

/**
 * One model session, one state store and one micro-batching engine shared by
 * every node of an edgelstm-model config node. Each user node has a scope:
 * its devices live in the store as `<scope>:<device>`, so two nodes fed the
 * same readings never step a device twice, and a reset in one node never
 * touches another's devices.
 *
 * The engine is built after the nodes of a deploy have registered (they are
 * constructed synchronously; loading is async), with the largest forecast
 * horizon any of them wants. A later, larger horizon or a new model (from
 * `edgelstm deploy`) replaces the engine between batches over the same
 * store, so device state carries over.
 */
export class SharedEngine {
  readonly #o: SharedEngineOptions;
  #model: Model | undefined;
  #engine: Engine | undefined;
  #ready: Promise<Engine>;
  #horizon = 1;
  #phase: EnginePhase = 'loading';
  #failure: Error | undefined;
  #saveTimer: NodeJS.Timeout | undefined;
  #savedAt = -1;
  #closing: Promise<void> | undefined;
  /** Called when the phase or the model changes. */
  onChange: (() => void) | undefined;

  constructor(o: SharedEngineOptions) {
    this.#o = o;
    this.#ready = this.#start();
    this.#ready.catch((e: Error) => {
      this.#failure = e;
      this.#setPhase('failed');
    });
  }

  get phase(): EnginePhase {
    return this.#phase;
  }

  get failure(): Error | undefined {
    return this.#failure;
  }

  get model(): Model | undefined {
    return this.#model;
  }

  /** Resolves once the engine is ready (rejects with the load error). */
  ready(): Promise<Engine> {
    return this.#ready;
  }

  /** Asks for forecasts `horizon` steps ahead; rebuilds the engine when it offers fewer. */
  requireHorizon(horizon: number): void {
    if (horizon <= this.#horizon || this.#closing) return;
    this.#horizon = horizon;
    if (this.#engine) this.#replace(async (old) => new Engine(old.model, this.#engineOptions(), old.store));
  }

  /** Steps one reading of `device` in `scope`. The result names the device as given. */
  async push(scope: string, device: string, values: number[], ts: number | undefined): Promise<Result> {
    const room = MAX_DEVICE_ID_LENGTH - scope.length - 1;
    if (device.length > room) {
      throw new SampleError('E_BAD_DEVICE', 'device id too long', { field: 'device', expected: `at most ${room} characters`, found: `${device.length} characters` });
    }
    let e = this.#engine;
    // A replacement may be under way: wait for the engine that follows it (readings keep their order).
    while (e === undefined) {
      if (this.#closing) throw new Error('the edgelstm-model node is closing');
      await this.#ready;
      e = this.#engine;
    }
    const r = await e.push(ts === undefined ? { device: scopedKey(scope, device), values } : { device: scopedKey(scope, device), ts, values });
    r.device = device;
    return r;
  }

  /** Forgets one device of a scope, or all of them; resolves with how many were reset. */
  async reset(scope: string, device: string): Promise<number> {
    const e = await this.#ready;
    if (device !== 'all') return (await e.reset(scopedKey(scope, device))) ? 1 : 0;
    let n = 0;
    for (const key of e.store.devices()) if (key.startsWith(`${scope}:`) && (await e.reset(key))) n++;
    return n;
  }

  /** Devices with state in a scope (a scan of the store: call it for status, not per reading). */
  devicesIn(scope: string): number {
    const e = this.#engine;
    if (!e) return 0;
    let n = 0;
    for (const key of e.store.devices()) if (key.startsWith(`${scope}:`)) n++;
    return n;
  }

  /** Loads another model file and swaps it in; state carries over when the architecture is the same. */
  async swapModel(path: string): Promise<void> {
    const next = await loadModel(path, { backend: this.#o.backend, threads: this.#o.threads });
    if (this.#closing) return void (await next.release());
    this.#replace(async (old) => {
      const keep = sameArchitecture(old.model, next);
      if (!keep) this.#o.log.warn(`model ${next.id} has another architecture than ${old.model.id}: device state starts afresh`);
      const e = new Engine(next, this.#engineOptions(), keep ? old.store : undefined);
      const prev = this.#model;
      this.#model = next;
      await prev?.release();
      this.#o.log.info(`model ${next.id} (${next.fingerprint.slice(0, 12)}) in use`);
      return e;
    });
    await this.#ready;
    this.onChange?.();
  }

  /** Steps what is queued, writes the snapshot (when configured) and releases the model. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    if (this.#saveTimer) clearInterval(this.#saveTimer);
    let e: Engine;
    try {
      e = await this.#ready;
    } catch {
      this.#setPhase('closed');
      return;
    }
    await e.close();
    try {
      await this.#save(e, true);
    } finally {
      this.#engine = undefined;
      await this.#model?.release();
      this.#setPhase('closed');
    }
  }

  async #start(): Promise<Engine> {
    // Let every node of this deploy register its horizon before the engine is built.
    await new Promise<void>((resolve) => setImmediate(resolve));
    const model = await loadModel(this.#o.modelPath, { backend: this.#o.backend, threads: this.#o.threads });
    if (this.#closing) {
      await model.release();
      throw new Error('closed while loading');
    }
    this.#model = model;
    const e = new Engine(model, this.#engineOptions());
    const file = this.#o.stateFile;
    if (file !== undefined && existsSync(file)) {
      try {
        const n = await e.loadState(file);
        this.#o.log.info(`restored the state of ${e.devices} devices (${n} bytes) from ${file}`);
      } catch (err) {
        this.#o.log.warn(`state not restored, starting clean: ${(err as Error).message}`);
      }
    }
    this.#savedAt = e.counters.accepted;
    if (file !== undefined && this.#o.saveIntervalMs > 0) {
      this.#saveTimer = setInterval(() => {
        if (this.#engine) this.#save(this.#engine, false).catch((err: Error) => this.#o.log.warn(`state not saved: ${err.message}`));
      }, this.#o.saveIntervalMs);
      this.#saveTimer.unref();
    }
    this.#engine = e;
    this.#setPhase('ready');
    return e;
  }

  /** Saves when a snapshot file is set and readings arrived since the last save (or always, on close). */
  async #save(e: Engine, always: boolean): Promise<void> {
    const file = this.#o.stateFile;
    if (file === undefined || (!always && e.counters.accepted === this.#savedAt)) return;
    mkdirSync(dirname(file), { recursive: true });
    this.#savedAt = e.counters.accepted;
    await e.saveState(file);
  }

  #replace(make: (old: Engine) => Promise<Engine>): void {
    this.#engine = undefined;
    const prev = this.#ready;
    this.#ready = prev.then(async (old) => {
      await old.close();
      const e = await make(old);
      // Counters restart with the engine; keep "nothing new since the last save" meaningful.
      this.#savedAt = -1;
      this.#engine = e;
      return e;
    });
    this.#ready.catch((err: Error) => {
      this.#failure = err;
      this.#setPhase('failed');
    });
  }

  #engineOptions(): EngineOptions {
    return { ...this.#o.engine, horizon: this.#horizon };
  }

  #setPhase(p: EnginePhase): void {
    this.#phase = p;
    this.onChange?.();
  }
}

/** The store key of a device in a scope. Scopes are node ids, which hold no ':'. */
export function scopedKey(scope: string, device: string): string {
  return `${scope}:${device}`;
}
