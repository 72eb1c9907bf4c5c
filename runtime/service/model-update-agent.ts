import type { MqttClient } from 'mqtt';
import { acquireModel, AcquireError, parseModelRequest, publicReason, type AcquirePolicy, type ModelRequest } from '../acquire';
import { modelSha256 } from '../model/signature';

/**
 * The device side of `edgelstm deploy` over MQTT. The deployer publishes a
 * retained QoS 1 request on `edgelstm/<name>/control/model`; the agent
 * gets the bytes through the acquisition module (signature over the
 * SHA-256 first, then a capped download), hands them to `apply`, and
 * publishes a retained status on `edgelstm/<name>/status/model`. The device
 * keeps running its current model whenever anything fails. The status never
 * repeats the request, the URL or the hash of what was downloaded: only the
 * model running, the sha256 that was asked for, and a fixed reason.
 */

/** The retained request the deployer publishes: a sha256, and a url unless the device holds the model. */
export type ModelUpdateRequest = ModelRequest & { sha256: string };

/** The retained status the agent publishes. */
export interface ModelUpdateStatus {
  state: 'ok' | 'error';
  /** SHA-256 of the model the device runs now (after an error: still the old one). */
  sha256: string;
  /** `name@version` of the model it runs now, with its SHA-256 prefix (`name@version#0123456789ab`). */
  model: string;
  /** The SHA-256 that was requested, when this status answers a request. */
  requested?: string;
  deployId?: string;
  /** Error code (E_SIGNATURE, E_PAYLOAD, E_MODEL). */
  code?: string;
  /** One of a fixed set of reasons (see RefusalReason). */
  error?: string;
  /** When the model was fetched and verified but does not load or fit: why, at most 200 characters. */
  detail?: string;
  ts: number;
}

export interface ModelUpdateLog {
  info(msg: string): void;
  warn(msg: string): void;
}

export interface ModelUpdateAgentOptions {
  /** A connected (or connecting) MQTT client; the agent subscribes and publishes on it, never ends it. */
  client: MqttClient;
  /** Device name, the `<name>` in the topics. */
  name: string;
  /** What the device runs at start; published as the first status. */
  current: { bytes: Uint8Array; model: string };
  /** Who may change the model and how its bytes are fetched (signature required unless the policy says otherwise). */
  policy: AcquirePolicy;
  /** SHA-256 of the model loaded at start: switching back to it needs no signature. Default: that of `current`. */
  trustedSha256?: string;
  /** Swaps the model in; rejects (with a message the operator will read) to refuse it. */
  apply(bytes: Uint8Array, request: ModelUpdateRequest): Promise<{ model: string }>;
  log?: ModelUpdateLog;
  /** Topic prefix. Default 'edgelstm'. */
  prefix?: string;
}

export function modelControlTopic(name: string, prefix = 'edgelstm'): string {
  return `${prefix}/${name}/control/model`;
}

export function modelStatusTopic(name: string, prefix = 'edgelstm'): string {
  return `${prefix}/${name}/status/model`;
}

const MAX_DETAIL_CHARS = 200;

/** Parses a request payload; throws an AcquireError (E_PAYLOAD) naming the field. */
export function parseModelUpdateRequest(payload: Buffer): ModelUpdateRequest {
  return parseModelRequest(payload, 'fleet') as ModelUpdateRequest;
}

/** Stops the agent when called (unsubscribes, waits for an update in progress). */
export interface ModelUpdateAgent {
  (): Promise<void>;
  /** The model changed by another way (a reload of the file, a local control message): report it. */
  setCurrent(bytes: Uint8Array, model: string): void;
}

/**
 * Starts the agent. Returns a function that unsubscribes (and waits for an
 * update in progress to finish). Requests are handled one at a time, the
 * latest winning: a request that arrives during an update runs after it.
 */
export function startModelUpdateAgent(opts: ModelUpdateAgentOptions): ModelUpdateAgent {
  const { client, name } = opts;
  const prefix = opts.prefix ?? 'edgelstm';
  const control = modelControlTopic(name, prefix);
  const statusTopic = modelStatusTopic(name, prefix);
  const log = opts.log ?? { info: () => undefined, warn: () => undefined };

  let current = { sha256: modelSha256(opts.current.bytes), model: opts.current.model };
  const trustedSha256 = opts.trustedSha256 ?? current.sha256;
  // The running model and the one before it, so a rollback needs no download.
  const held = new Map<string, Uint8Array>([[current.sha256, opts.current.bytes]]);
  let queued: ModelUpdateRequest | undefined;
  let busy: Promise<void> | undefined;
  let stopped = false;

  const publish = (s: Omit<ModelUpdateStatus, 'ts' | 'sha256' | 'model'>): Promise<void> =>
    new Promise((resolve) => {
      const status: ModelUpdateStatus = { ...s, sha256: current.sha256, model: current.model, ts: Date.now() };
      client.publish(statusTopic, JSON.stringify(status), { qos: 1, retain: true }, () => resolve());
    });

  async function handle(req: ModelUpdateRequest): Promise<void> {
    if (req.sha256 === current.sha256) {
      await publish({ state: 'ok', requested: req.sha256, ...(req.deployId ? { deployId: req.deployId } : {}) });
      return;
    }
    try {
      // A fleet request names a URL or a held model, never a path on the device.
      if (req.path !== undefined) throw new AcquireError('E_PAYLOAD', 'path requests are off or the path is not allowed', 'fleet requests cannot name a path', { field: 'path' });
      const { bytes } = await acquireModel(req, opts.policy, { held, trustedSha256 });
      let model: string;
      try {
        ({ model } = await opts.apply(bytes, req));
      } catch (e) {
        log.warn(`model update ${req.sha256.slice(0, 12)} refused: ${(e as Error).message}`);
        // What the loader says of bytes the sender chose (and, by default, signed): bounded, nothing of the device's own.
        const detail = (e as Error).message.slice(0, MAX_DETAIL_CHARS);
        await publish({ state: 'error', requested: req.sha256, code: 'E_MODEL', error: 'the model does not load', detail, ...(req.deployId ? { deployId: req.deployId } : {}) });
        return;
      }
      const previous = current.sha256;
      current = { sha256: req.sha256, model };
      held.set(req.sha256, bytes);
      for (const k of held.keys()) if (k !== previous && k !== current.sha256) held.delete(k);
      log.info(`model ${model} (${req.sha256.slice(0, 12)}) in service`);
      await publish({ state: 'ok', requested: req.sha256, ...(req.deployId ? { deployId: req.deployId } : {}) });
    } catch (e) {
      log.warn(`model update ${req.sha256.slice(0, 12)} refused: ${(e as Error).message}`);
      await publish({ state: 'error', requested: req.sha256, code: (e as AcquireError).code ?? 'E_MODEL', error: publicReason(e), ...(req.deployId ? { deployId: req.deployId } : {}) });
    }
  }

  function schedule(req: ModelUpdateRequest): void {
    queued = req;
    if (busy) return;
    busy = (async () => {
      while (queued && !stopped) {
        const next = queued;
        queued = undefined;
        await handle(next);
      }
      busy = undefined;
    })();
  }

  const onMessage = (topic: string, payload: Buffer): void => {
    if (topic !== control || payload.length === 0) return;
    let req: ModelUpdateRequest;
    try {
      req = parseModelUpdateRequest(payload);
    } catch (e) {
      log.warn((e as Error).message);
      void publish({ state: 'error', code: 'E_PAYLOAD', error: publicReason(e) });
      return;
    }
    schedule(req);
  };

  client.on('message', onMessage);
  const onConnect = (): void => {
    client.subscribe(control, { qos: 1 });
  };
  client.on('connect', onConnect);
  if (client.connected) onConnect();
  // The status before any request: what the device runs. Retained, so the deployer reads it on subscribe.
  void publish({ state: 'ok' });

  const stop = async (): Promise<void> => {
    stopped = true;
    client.removeListener('message', onMessage);
    client.removeListener('connect', onConnect);
    if (client.connected) await new Promise<void>((r) => client.unsubscribe(control, () => r()));
    await busy;
  };
  return Object.assign(stop, {
    setCurrent(bytes: Uint8Array, model: string): void {
      const previous = current.sha256;
      current = { sha256: modelSha256(bytes), model };
      held.set(current.sha256, bytes);
      for (const k of held.keys()) if (k !== previous && k !== current.sha256) held.delete(k);
      if (!stopped) void publish({ state: 'ok' });
    },
  });
}
