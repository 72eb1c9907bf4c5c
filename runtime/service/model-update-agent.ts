import { createHash } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import { parseEd25519Key, verifyModelSignature } from '../model/signature';

/**
 * The device side of `edgelstm deploy` over MQTT. The deployer publishes a
 * retained QoS 1 request on `edgelstm/<name>/control/model`; the agent
 * downloads the bytes, checks the SHA-256 (and the ed25519 signature when a
 * public key is configured), hands them to `apply`, and publishes a retained
 * status on `edgelstm/<name>/status/model`. The device keeps running its
 * current model whenever anything fails.
 */

/** The retained request the deployer publishes. */
export interface ModelUpdateRequest {
  /** Where to fetch the bytes; may be absent when the device already holds them (a rollback). */
  url?: string;
  /** Hex SHA-256 the bytes must have. */
  sha256: string;
  version?: string;
  /** Base64 ed25519 signature over the model bytes. */
  signature?: string;
  /** Echoed in the status so the deployer can tell its own answer from an older retained one. */
  deployId?: string;
}

/** The retained status the agent publishes. */
export interface ModelUpdateStatus {
  state: 'ok' | 'error';
  /** SHA-256 of the model the device runs now (after an error: still the old one). */
  sha256: string;
  /** `name@version` of the model it runs now. */
  model: string;
  /** The SHA-256 that was requested, when this status answers a request. */
  requested?: string;
  deployId?: string;
  error?: string;
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
  /** PEM ed25519 public key; when set, unsigned or badly signed models are refused. */
  publicKeyPem?: string;
  /** Swaps the model in; rejects (with a message the operator will read) to refuse it. */
  apply(bytes: Uint8Array, request: ModelUpdateRequest): Promise<{ model: string }>;
  log?: ModelUpdateLog;
  /** Topic prefix. Default 'edgelstm'. */
  prefix?: string;
  /** Largest model accepted, bytes. Default 256 MiB. */
  maxBytes?: number;
  /** Download timeout, ms. Default 60000. */
  fetchTimeoutMs?: number;
}

export function modelControlTopic(name: string, prefix = 'edgelstm'): string {
  return `${prefix}/${name}/control/model`;
}

export function modelStatusTopic(name: string, prefix = 'edgelstm'): string {
  return `${prefix}/${name}/status/model`;
}

const sha256Hex = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** Parses a request payload; throws an Error naming the field. */
export function parseModelUpdateRequest(payload: Buffer): ModelUpdateRequest {
  let o: unknown;
  try {
    o = JSON.parse(payload.toString('utf8'));
  } catch {
    throw new Error('model update request is not JSON');
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new Error('model update request must be a JSON object');
  const r = o as Record<string, unknown>;
  if (typeof r['sha256'] !== 'string' || !/^[0-9a-fA-F]{64}$/.test(r['sha256'])) throw new Error('model update request: sha256 must be 64 hex digits');
  const req: ModelUpdateRequest = { sha256: r['sha256'].toLowerCase() };
  for (const k of ['url', 'version', 'signature', 'deployId'] as const) {
    const v = r[k];
    if (v === undefined) continue;
    if (typeof v !== 'string' || v.length === 0) throw new Error(`model update request: ${k} must be a non-empty string`);
    req[k] = v;
  }
  if (req.url !== undefined && !/^https?:\/\//.test(req.url)) throw new Error('model update request: url must be http(s)');
  return req;
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
  const maxBytes = opts.maxBytes ?? 256 * 1024 * 1024;
  const log = opts.log ?? { info: () => undefined, warn: () => undefined };
  // A bad key fails here, at start, not at the first update.
  if (opts.publicKeyPem) parseEd25519Key(opts.publicKeyPem, 'public', 'publicKeyPem');

  let current = { sha256: sha256Hex(opts.current.bytes), model: opts.current.model };
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

  async function fetchBytes(req: ModelUpdateRequest): Promise<Uint8Array> {
    const have = held.get(req.sha256);
    if (have) return have;
    if (req.url === undefined) throw new Error(`no url given and the device does not hold model ${req.sha256.slice(0, 12)}`);
    const res = await fetch(req.url, { signal: AbortSignal.timeout(opts.fetchTimeoutMs ?? 60_000) });
    if (!res.ok) throw new Error(`cannot fetch model: HTTP ${res.status} from ${req.url}`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (bytes.length > maxBytes) throw new Error(`model of ${bytes.length} bytes is larger than ${maxBytes}`);
    const got = sha256Hex(bytes);
    if (got !== req.sha256) throw new Error(`model SHA-256 does not match: expected ${req.sha256}, found ${got}`);
    return bytes;
  }

  async function handle(req: ModelUpdateRequest): Promise<void> {
    if (req.sha256 === current.sha256) {
      await publish({ state: 'ok', requested: req.sha256, ...(req.deployId ? { deployId: req.deployId } : {}) });
      return;
    }
    try {
      const bytes = await fetchBytes(req);
      if (opts.publicKeyPem) verifyModelSignature(bytes, req.signature, opts.publicKeyPem, req.url ?? `model ${req.sha256.slice(0, 12)}`);
      const { model } = await opts.apply(bytes, req);
      const previous = current.sha256;
      current = { sha256: req.sha256, model };
      held.set(req.sha256, bytes);
      for (const k of held.keys()) if (k !== previous && k !== current.sha256) held.delete(k);
      log.info(`model ${model} (${req.sha256.slice(0, 12)}) in service`);
      await publish({ state: 'ok', requested: req.sha256, ...(req.deployId ? { deployId: req.deployId } : {}) });
    } catch (e) {
      const error = (e as Error).message;
      log.warn(`model update ${req.sha256.slice(0, 12)} refused: ${error}`);
      await publish({ state: 'error', requested: req.sha256, error, ...(req.deployId ? { deployId: req.deployId } : {}) });
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
      void publish({ state: 'error', error: (e as Error).message });
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
      current = { sha256: sha256Hex(bytes), model };
      held.set(current.sha256, bytes);
      for (const k of held.keys()) if (k !== previous && k !== current.sha256) held.delete(k);
      if (!stopped) void publish({ state: 'ok' });
    },
  });
}
