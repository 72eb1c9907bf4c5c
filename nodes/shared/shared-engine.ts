import { EngineHost, MAX_DEVICE_ID_LENGTH, SampleError, type Engine, type EngineOptions, type Model, type Result } from '../../runtime';

export interface SharedEngineOptions {
  modelPath: string;
  backend: 'auto' | 'native' | 'wasm';
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
 * store, so device state carries over. The engine's life (load, restore,
 * periodic snapshot, swap, close) is runtime/host's EngineHost, the same
 * the MQTT service uses.
 */
export class SharedEngine {
  readonly #o: SharedEngineOptions;
  readonly #host: Promise<EngineHost>;
  #loaded: EngineHost | undefined;
  #horizon = 1;
  #phase: EnginePhase = 'loading';
  #failure: Error | undefined;
  #closing: Promise<void> | undefined;
  /** Resolves when close begins: readings waiting for a replacement stop waiting then. */
  readonly #closeBegun: Promise<void>;
  #beginClose!: () => void;
  /** Called when the phase or the model changes. */
  onChange: (() => void) | undefined;

  constructor(o: SharedEngineOptions) {
    this.#o = o;
    this.#closeBegun = new Promise<void>((r) => (this.#beginClose = r));
    this.#host = this.#start();
    this.#host.catch((e: Error) => {
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
    return this.#loaded?.model;
  }

  /** Resolves once the engine is ready, after any replacement under way (rejects with the load error). */
  async ready(): Promise<Engine> {
    const host = await this.#host;
    return host.serial(async () => host.engine);
  }

  /** Asks for forecasts `horizon` steps ahead; rebuilds the engine when it offers fewer. */
  requireHorizon(horizon: number): void {
    if (horizon <= this.#horizon || this.#closing) return;
    this.#horizon = horizon;
    this.#loaded?.rebuild().catch((e: Error) => this.#o.log.warn(`engine not rebuilt: ${e.message}`));
  }

  /** Steps one reading of `device` in `scope`. The result names the device as given. */
  async push(scope: string, device: string, values: ArrayLike<number>, ts: number | undefined): Promise<Result> {
    const room = MAX_DEVICE_ID_LENGTH - scope.length - 1;
    if (device.length > room) {
      throw new SampleError('E_BAD_DEVICE', 'device id too long', { field: 'device', expected: `at most ${room} characters`, found: `${device.length} characters` });
    }
    const host = this.#loaded ?? (await this.#host);
    // A replacement may be under way: wait for the engine that follows it (readings keep their order).
    while (host.gate) {
      if (this.#closing) throw new Error('the edgelstm-model node is closing');
      await Promise.race([host.gate, this.#closeBegun]);
    }
    const key = scopedKey(scope, device);
    const r = await host.engine.push(ts === undefined ? { device: key, values } : { device: key, ts, values });
    r.device = device;
    return r;
  }

  /** Forgets one device of a scope, or all of them; resolves with how many were reset. */
  async reset(scope: string, device: string): Promise<number> {
    const e = await this.ready();
    if (device !== 'all') return (await e.reset(scopedKey(scope, device))) ? 1 : 0;
    let n = 0;
    for (const key of e.store.devices()) if (key.startsWith(`${scope}:`) && (await e.reset(key))) n++;
    return n;
  }

  /** Devices with state in a scope (a scan of the store: call it for status, not per reading). */
  devicesIn(scope: string): number {
    const host = this.#loaded;
    if (!host) return 0;
    let n = 0;
    for (const key of host.engine.store.devices()) if (key.startsWith(`${scope}:`)) n++;
    return n;
  }

  /** Loads another model file and swaps it in; state carries over when the architecture is the same. */
  async swapModel(path: string): Promise<void> {
    const host = await this.#host;
    const next = await host.loadModel(path);
    if (this.#closing) return void (await next.release());
    await host.swap(next);
    this.onChange?.();
  }

  /** Steps what is queued, writes the snapshot (when configured) and releases the model. */
  close(): Promise<void> {
    this.#beginClose();
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    let host: EngineHost;
    try {
      host = await this.#host;
    } catch {
      this.#setPhase('closed');
      return;
    }
    const file = this.#o.stateFile;
    try {
      await host.close(file === undefined ? undefined : async () => void (await host.save(file)));
    } finally {
      this.#setPhase('closed');
    }
  }

  async #start(): Promise<EngineHost> {
    // Let every node of this deploy register its horizon before the engine is built.
    await new Promise<void>((resolve) => setImmediate(resolve));
    const log = this.#o.log;
    const host = await EngineHost.load(this.#o.modelPath, {
      backend: this.#o.backend,
      threads: this.#o.threads,
      engineOptions: () => ({ ...this.#o.engine, horizon: this.#horizon }),
      log: { info: (m) => log.info(m), warn: (m) => log.warn(m) },
    });
    if (this.#closing) {
      await host.close();
      throw new Error('closed while loading');
    }
    const file = this.#o.stateFile;
    if (file !== undefined) {
      await host.restore(file);
      host.saveEvery(this.#o.saveIntervalMs, () => host.save(file, true));
    }
    this.#loaded = host;
    this.#setPhase('ready');
    return host;
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
