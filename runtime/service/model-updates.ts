import { readFileSync, unwatchFile, watchFile } from 'node:fs';
import type { MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import type { EngineHost, SwapOutcome } from '../host/engine-host';
import type { ServiceConfig } from './config';
import type { ServiceMetrics } from './metrics';
import { modelControlTopic, startModelUpdateAgent, type ModelUpdateAgent } from './model-update-agent';
import type { Recovery } from './recovery';
import { acquireModel, publicReason, type ModelRequest } from '../acquire';
import type { EdgeLstmError } from '../errors';

export interface ModelUpdatesDeps {
  cfg: ServiceConfig;
  host: EngineHost;
  recovery: Recovery;
  metrics: ServiceMetrics;
  log: Logger;
  /** Publishes a status message (QoS 1), when connected. */
  publish(topic: string, payload: string): void;
  /** After a swap, with the new engine in use (the Sparkplug link follows its features). */
  onSwapped?(): void;
}

/**
 * Where a new model comes from and how it goes in: reload requests on the
 * control topic, the watched model file, and the fleet agent of `edgelstm
 * deploy`; each swap goes through the engine host, serialized with
 * snapshots, and a journal starts over under the new model.
 */
export class ModelUpdates {
  readonly #d: ModelUpdatesDeps;
  #agent: ModelUpdateAgent | undefined;
  #watched: string | undefined;
  /** The fleet agent's request topic ('' while it does not run). */
  fleetTopic = '';

  constructor(deps: ModelUpdatesDeps) {
    this.#d = deps;
  }

  /** Reloads the model file when it changes. Polling survives the atomic rename a deployment tool does; fs.watch would follow the old inode. */
  watch(modelPath: string): void {
    this.#watched = modelPath;
    watchFile(modelPath, { interval: 1000 }, (cur, prev) => {
      if ((cur.mtimeMs !== prev.mtimeMs || cur.ino !== prev.ino) && cur.size > 0) void this.reload({ path: modelPath }, modelPath);
    });
  }

  /** The fleet side of `edgelstm deploy`: retained requests on edgelstm/<name>/control/model, status on edgelstm/<name>/status/model. */
  startAgent(modelPath: string, client: MqttClient): void {
    const { cfg, log, host } = this.#d;
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(modelPath);
    } catch (e) {
      log.warn({ err: (e as Error).message }, 'model file unreadable: fleet model updates off');
      return;
    }
    this.fleetTopic = modelControlTopic(cfg.name);
    this.#agent = startModelUpdateAgent({
      client,
      name: cfg.name,
      current: { bytes, model: host.model.id },
      policy: cfg.acquire,
      log: { info: (m) => log.info(m), warn: (m) => log.warn(m) },
      apply: async (next, req) => {
        const swapped = await this.swapModel(next, req.url ?? `fleet model ${req.sha256.slice(0, 12)}`);
        return { model: swapped?.model ?? host.model.id };
      },
    });
  }

  /**
   * Swaps the model between batches. The new model is loaded and checked
   * before anything changes; on failure the old one keeps running. States
   * carry over when the architecture is the same and are reset otherwise.
   * Requests are serialized (with snapshots).
   */
  reload(req: ModelRequest, operatorPath?: string): Promise<boolean> {
    const { cfg, host, metrics, log } = this.#d;
    return host.serial(async () => {
      const status = `${cfg.controlTopic}/status`;
      let swapped: SwapOutcome | undefined;
      let bytes: Uint8Array;
      try {
        // The operator's own --model file (watched) is trusted like the model loaded at start; anything else goes by the policy.
        const fetched = await acquireModel(req, cfg.acquire, operatorPath !== undefined ? { trustedPath: operatorPath } : {});
        bytes = fetched.bytes;
        swapped = await this.#swap(bytes, fetched.source);
      } catch (e) {
        metrics.reloads.inc({ outcome: 'failed' });
        log.error({ err: (e as Error).message.slice(0, 1000) }, 'model reload failed; keeping the current model');
        // Bounded and fixed: never the request, a path, a size or the hash of what was fetched.
        this.#d.publish(status, JSON.stringify({ ok: false, code: (e as EdgeLstmError).code ?? 'E_MODEL', error: publicReason(e), model: host.model.id, sha256: host.model.fingerprint }));
        return false;
      }
      if (swapped === undefined) return true;
      this.#d.publish(status, JSON.stringify({ ok: true, model: swapped.model, sha256: swapped.fingerprint, fingerprint: swapped.fingerprint, statesKept: swapped.statesKept }));
      this.#agent?.setCurrent(bytes, swapped.model);
      return true;
    });
  }

  /**
   * Loads `bytes` and swaps them in between batches (serialized with reloads
   * and snapshots); rejects, keeping the current model, when they do not
   * load. Undefined: the same model already runs. Checks of hash and
   * signature are the caller's.
   */
  swapModel(bytes: Uint8Array, name: string): Promise<SwapOutcome | undefined> {
    return this.#d.host.serial(() => this.#swap(bytes, name));
  }

  /** Stops watching and stops the fleet agent (waiting for an update it is applying). */
  async stop(): Promise<void> {
    if (this.#watched) unwatchFile(this.#watched);
    await this.#agent?.();
  }

  async #swap(bytes: Uint8Array, name: string): Promise<SwapOutcome | undefined> {
    const { host, recovery, metrics, log } = this.#d;
    const next = await host.loadModel(bytes, name);
    return host.swapNow(next, async ({ model, fingerprint, statesKept }) => {
      if (!statesKept) recovery.forgetAll();
      this.#d.onSwapped?.();
      metrics.reloads.inc({ outcome: statesKept ? 'kept-state' : 'reset-state' });
      log.info({ model, fingerprint, statesKept, backend: next.backendChoice.kind, reason: next.backendChoice.reason }, 'model reloaded');
      // The journal's readings were stepped by the old model: a snapshot under the new one starts a new journal.
      if (recovery.journal) await recovery.snapshot().catch((e: unknown) => log.error({ err: (e as Error).message }, 'snapshot after the model swap failed'));
    });
  }
}
