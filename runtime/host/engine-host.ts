import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { Engine } from '../engine/engine';
import type { EngineOptions } from '../engine/options';
import { sameArchitecture } from '../model/architecture';
import { loadModel, type LoadModelOptions, type Model } from '../model/load-model';
import type { DeviceStateStore } from '../state/store';

/** Where the host reports what it did; `fields` are for structured loggers (pino), the text stands alone. */
export interface HostLog {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
}

export interface EngineHostOptions {
  /** Which runtime computes the LSTM ('auto': native where it loads and agrees, see loadModel). */
  backend: NonNullable<LoadModelOptions['backend']>;
  /** Threads ONNX Runtime may use for one call. */
  threads?: number;
  /** The engine's options, asked for each time an engine is made (Node-RED raises the horizon). */
  engineOptions: () => EngineOptions;
  /** Called with every engine the host makes, before it steps anything: where callers attach onBatch and onForget. */
  wire?: (engine: Engine) => void;
  log: HostLog;
}

/** What a model swap did. */
export interface SwapOutcome {
  model: string;
  fingerprint: string;
  /** Device states carried over (same architecture) or started afresh. */
  statesKept: boolean;
}

/**
 * The life of one engine, shared by the MQTT service and the Node-RED config
 * node: load the model, restore a snapshot, save snapshots periodically,
 * swap the model (or rebuild the engine) between batches behind an admission
 * gate, and close. Swaps, rebuilds and whatever the caller passes to
 * `serial` run one at a time, in order.
 */
export class EngineHost {
  readonly #o: EngineHostOptions;
  #engine: Engine;
  #serial: Promise<unknown> = Promise.resolve();
  #gate: Promise<void> | undefined;
  #gateHolders = 0;
  #openGate: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** Readings accepted when the snapshot file was last written (-1: none since this engine was made). */
  #savedAt = -1;
  #closing: Promise<void> | undefined;

  private constructor(model: Model, o: EngineHostOptions) {
    this.#o = o;
    this.#engine = this.#make(model);
    // A fresh engine holds nothing a snapshot would need.
    this.#savedAt = 0;
  }

  /** Loads the model (a file or its bytes) and makes the engine. */
  static async load(source: string | Uint8Array, o: EngineHostOptions, name?: string): Promise<EngineHost> {
    return new EngineHost(await loadModel(source, modelOptions(o, name)), o);
  }

  /** The engine in use (another one after a swap or rebuild). */
  get engine(): Engine {
    return this.#engine;
  }

  get model(): Model {
    return this.#engine.model;
  }

  /** While a swap, rebuild or caller holds admission closed: resolves when it opens again. Undefined when open. */
  get gate(): Promise<void> | undefined {
    return this.#gate;
  }

  get closing(): boolean {
    return this.#closing !== undefined;
  }

  /** Stops admitting readings until the returned function is called (every holder must call it). */
  closeGate(): () => void {
    if (this.#gateHolders++ === 0) this.#gate = new Promise<void>((r) => (this.#openGate = r));
    let done = false;
    return () => {
      if (done) return;
      done = true;
      if (--this.#gateHolders > 0) return;
      const open = this.#openGate!;
      this.#gate = undefined;
      this.#openGate = undefined;
      open();
    };
  }

  /** Runs `fn` after the swaps, rebuilds and serial tasks before it, never two at once. */
  serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#serial.then(fn);
    this.#serial = run.catch(() => undefined);
    return run;
  }

  /**
   * Restores the snapshot in `file` when there is one; a snapshot of another
   * model or a damaged file is logged and skipped (the engine starts fresh).
   * Resolves with whether state was restored.
   */
  async restore(file: string): Promise<boolean> {
    if (!existsSync(file)) return false;
    const e = this.#engine;
    try {
      const bytes = await e.loadState(file);
      this.#o.log.info(`restored the state of ${e.devices} devices (${bytes} bytes) from ${file}`, { file, bytes, devices: e.devices });
      this.#savedAt = e.counters.accepted;
      return true;
    } catch (err) {
      this.#o.log.warn(`state not restored, starting clean: ${(err as Error).message}`, { file, err: (err as Error).message });
      return false;
    }
  }

  /** Writes the snapshot to `file` (between batches); with `onlyIfChanged`, only when readings arrived since the last write. */
  async save(file: string, onlyIfChanged = false): Promise<boolean> {
    const e = this.#engine;
    if (onlyIfChanged && e.counters.accepted === this.#savedAt) return false;
    mkdirSync(dirname(file), { recursive: true });
    this.#savedAt = e.counters.accepted;
    await e.saveState(file);
    return true;
  }

  /** Calls `save` every `intervalMs` until close; a failure is logged and the next tick tries again. */
  saveEvery(intervalMs: number, save: () => Promise<unknown>): void {
    if (intervalMs <= 0 || this.#timer) return;
    this.#timer = setInterval(() => {
      if (!this.#closing) save().catch((err: Error) => this.#o.log.warn(`state not saved: ${err.message}`, { err: err.message }));
    }, intervalMs);
    this.#timer.unref();
  }

  /** Loads a model (a file, or bytes named `name` for errors) for this host's backend, to swap in. */
  loadModel(source: string | Uint8Array, name?: string): Promise<Model> {
    return loadModel(source, modelOptions(this.#o, name));
  }

  /**
   * Swaps in `next` between batches (serialized, admission closed): the
   * queued readings are stepped by the old model, then the new engine takes
   * over the state store when the architecture is the same, and starts afresh
   * otherwise. `after` runs with admission still closed. Undefined (and
   * `next` released) when the same model already runs.
   */
  swap(next: Model, after?: (o: SwapOutcome) => Promise<void>): Promise<SwapOutcome | undefined> {
    return this.serial(() => this.swapNow(next, after));
  }

  /** `swap` for a caller already inside `serial` (a reload that fetches, loads and swaps as one step). */
  async swapNow(next: Model, after?: (o: SwapOutcome) => Promise<void>): Promise<SwapOutcome | undefined> {
    const old = this.#engine;
    if (next.fingerprint === old.model.fingerprint || this.#closing) {
      await next.release();
      return undefined;
    }
    const open = this.closeGate();
    try {
      await old.flush();
      const statesKept = sameArchitecture(old.model, next);
      if (!statesKept) this.#o.log.warn(`model ${next.id} has another architecture than ${old.model.id}: device state starts afresh`, { model: next.id, previous: old.model.id });
      this.#engine = this.#make(next, statesKept ? old.store : undefined);
      await old.close();
      await old.model.release();
      const outcome = { model: next.id, fingerprint: next.fingerprint, statesKept };
      this.#o.log.info(`model ${next.id} (${next.fingerprint.slice(0, 12)}) in use`, outcome);
      if (after) await after(outcome);
      return outcome;
    } finally {
      open();
    }
  }

  /** Makes a new engine over the same model and store (new engine options), between batches. */
  rebuild(): Promise<void> {
    return this.serial(async () => {
      if (this.#closing) return;
      const open = this.closeGate();
      try {
        const old = this.#engine;
        await old.close();
        this.#engine = this.#make(old.model, old.store);
      } finally {
        open();
      }
    });
  }

  /**
   * Waits for the swaps and serial tasks under way, steps what is queued,
   * runs `last` (the final snapshot), and releases the model. Admission stays
   * closed.
   */
  close(last?: () => Promise<void>): Promise<void> {
    this.#closing ??= (async () => {
      if (this.#timer) clearInterval(this.#timer);
      this.closeGate();
      await this.#serial;
      await this.#engine.flush();
      try {
        if (last) await last();
      } finally {
        await this.#engine.close();
        await this.#engine.model.release();
      }
    })();
    return this.#closing;
  }

  #make(model: Model, store?: DeviceStateStore): Engine {
    const e = new Engine(model, this.#o.engineOptions(), store);
    // Counters restart with the engine: "nothing new since the last save" must not match by accident.
    this.#savedAt = -1;
    this.#o.wire?.(e);
    return e;
  }
}

/** Bytes carry their metadata inside: a sidecar file beside them would be another model's. */
function modelOptions(o: EngineHostOptions, name: string | undefined): LoadModelOptions {
  return { backend: o.backend, ...(o.threads !== undefined ? { threads: o.threads } : {}), ...(name !== undefined ? { name, sidecar: false } : {}) };
}
