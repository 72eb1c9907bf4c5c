import mqtt, { type MqttClient } from 'mqtt';
import { modelControlTopic, modelStatusTopic, type ModelUpdateRequest, type ModelUpdateStatus } from '../../runtime/service/model-update-agent';
import type { Device } from './inventory';
import { UnreachableError, withTimeout, type DeviceState, type DeviceTarget, type Release } from './target';

/** One MQTT connection per broker URL, shared by the devices behind it; a failed connect is remembered. */
export class BrokerPool {
  readonly #clients = new Map<string, Promise<MqttClient>>();
  readonly #connectTimeoutMs: number;

  constructor(connectTimeoutMs: number) {
    this.#connectTimeoutMs = connectTimeoutMs;
  }

  get(url: string, username?: string, password?: string): Promise<MqttClient> {
    const key = `${username ?? ''}@${url}`;
    let p = this.#clients.get(key);
    if (!p) {
      p = new Promise<MqttClient>((resolve, reject) => {
        const client = mqtt.connect(url, {
          connectTimeout: this.#connectTimeoutMs,
          reconnectPeriod: 0,
          clean: true,
          ...(username !== undefined ? { username } : {}),
          ...(password !== undefined ? { password } : {}),
        });
        client.setMaxListeners(0);
        const fail = (e: Error): void => {
          client.end(true);
          reject(new UnreachableError(`broker ${url} unreachable: ${e.message}`));
        };
        const timer = setTimeout(() => fail(new Error(`no CONNACK within ${this.#connectTimeoutMs} ms`)), this.#connectTimeoutMs);
        client.once('connect', () => {
          clearTimeout(timer);
          client.removeListener('error', fail);
          client.on('error', () => undefined);
          resolve(client);
        });
        client.once('error', (e) => {
          clearTimeout(timer);
          fail(e);
        });
        client.once('close', () => {
          if (!client.connected) {
            clearTimeout(timer);
            fail(new Error('connection closed'));
          }
        });
      });
      p.catch(() => undefined);
      this.#clients.set(key, p);
    }
    return p;
  }

  async close(): Promise<void> {
    await Promise.all(
      [...this.#clients.values()].map(async (p) => {
        const c = await p.catch(() => undefined);
        if (c) await new Promise<void>((r) => c.end(false, {}, () => r()));
      }),
    );
  }
}

/** Waits for messages on one topic; remembers the last one (a retained one arrives first). */
class TopicWatch {
  last: Buffer | undefined;
  readonly #waiters = new Set<(p: Buffer) => boolean>();
  readonly #onMessage: (topic: string, payload: Buffer) => void;

  constructor(
    readonly client: MqttClient,
    readonly topic: string,
  ) {
    this.#onMessage = (t, payload) => {
      if (t !== topic) return;
      this.last = payload;
      for (const w of this.#waiters) if (w(payload)) this.#waiters.delete(w);
    };
    client.on('message', this.#onMessage);
  }

  subscribe(): Promise<void> {
    return new Promise((resolve, reject) => this.client.subscribe(this.topic, { qos: 1 }, (e) => (e ? reject(e) : resolve())));
  }

  /** Resolves with the first message (including the one already held) that `match` accepts. */
  next<T>(match: (p: Buffer) => T | undefined, includeLast: boolean): Promise<T> {
    return new Promise<T>((resolve) => {
      if (includeLast && this.last) {
        const v = match(this.last);
        if (v !== undefined) return resolve(v);
      }
      this.#waiters.add((p) => {
        const v = match(p);
        if (v === undefined) return false;
        resolve(v);
        return true;
      });
    });
  }

  async close(): Promise<void> {
    this.client.removeListener('message', this.#onMessage);
    this.#waiters.clear();
    if (this.client.connected) await new Promise<void>((r) => this.client.unsubscribe(this.topic, () => r()));
  }
}

function parseStatus(p: Buffer): ModelUpdateStatus | undefined {
  try {
    const s = JSON.parse(p.toString('utf8')) as ModelUpdateStatus;
    return typeof s === 'object' && s !== null && (s.state === 'ok' || s.state === 'error') && typeof s.sha256 === 'string' ? s : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A device running `edgelstm run` (or anything with the model-update agent):
 * a retained request on its control topic, its answer on its status topic.
 */
export class EdgeLstmTarget implements DeviceTarget {
  readonly device: Device;
  readonly #release: Release;
  readonly #pool: BrokerPool;
  readonly #timeoutMs: number;
  #status: TopicWatch | undefined;
  #control: TopicWatch | undefined;
  #before: DeviceState | undefined;
  /** The retained request found before the change, put back by restore. */
  #previousControl: Buffer | undefined;

  constructor(device: Device, release: Release, pool: BrokerPool, timeoutMs: number) {
    this.device = device;
    this.#release = release;
    this.#pool = pool;
    this.#timeoutMs = timeoutMs;
  }

  async read(): Promise<DeviceState> {
    // MQTT sends a password only with a username (3.1.1 forbids it alone), so a fleet-wide default
    // token meant for Node-RED does not break anonymous brokers.
    const d = this.device;
    const client = await this.#pool.get(d.mqtt!, d.username, d.username !== undefined ? d.token : undefined);
    this.#status = new TopicWatch(client, modelStatusTopic(this.device.name));
    this.#control = new TopicWatch(client, modelControlTopic(this.device.name));
    await withTimeout(Promise.all([this.#status.subscribe(), this.#control.subscribe()]), this.#timeoutMs, `subscribing for ${this.device.name}`);
    // The agent keeps a retained status; none at all means the device never came up on this broker.
    let status: ModelUpdateStatus;
    try {
      status = await withTimeout(this.#status.next(parseStatus, true), Math.min(this.#timeoutMs, 3000), 'waiting for a retained status');
    } catch {
      throw new UnreachableError(`no status from ${this.device.name} on ${this.device.mqtt} (device never reported)`);
    }
    // Retained messages are delivered together after SUBACK; give the control one a moment.
    if (!this.#control.last) await new Promise((r) => setTimeout(r, 100));
    this.#previousControl = this.#control.last && this.#control.last.length > 0 ? this.#control.last : undefined;
    this.#before = { sha256: status.sha256, model: status.model };
    return this.#before;
  }

  upToDate(): boolean {
    return !this.#release.model || this.#before?.sha256 === this.#release.model.sha256;
  }

  async apply(): Promise<DeviceState> {
    const m = this.#release.model!;
    const req: ModelUpdateRequest = { url: m.url, sha256: m.sha256, version: m.version, deployId: this.#release.deployId, ...(m.signature ? { signature: m.signature } : {}) };
    return this.#request(req, m.sha256);
  }

  async restore(): Promise<DeviceState> {
    const before = this.#before;
    if (!before || before.sha256 === null) throw new Error('nothing recorded to restore');
    let prev: { sha256?: string } | undefined;
    try {
      prev = this.#previousControl ? (JSON.parse(this.#previousControl.toString('utf8')) as { sha256?: string }) : undefined;
    } catch {
      prev = undefined;
    }
    const deployId = `${this.#release.deployId}-restore`;
    // The old request again (with its URL) when it is what the device ran; otherwise a request for the
    // model the device held before, which the agent keeps without a download.
    const req: ModelUpdateRequest = prev?.sha256 === before.sha256 ? { ...(prev as ModelUpdateRequest), deployId } : { sha256: before.sha256, deployId };
    return this.#request(req, before.sha256);
  }

  async #request(req: ModelUpdateRequest, sha: string): Promise<DeviceState> {
    const status = this.#status!;
    const answer = status.next((p) => {
      const s = parseStatus(p);
      return s && s.deployId === req.deployId ? s : undefined;
    }, false);
    await new Promise<void>((resolve, reject) =>
      status.client.publish(modelControlTopic(this.device.name), JSON.stringify(req), { qos: 1, retain: true }, (e) => (e ? reject(e) : resolve())),
    );
    const s = await withTimeout(answer, this.#timeoutMs, `waiting for ${this.device.name} to report`);
    if (s.state !== 'ok' || s.sha256 !== sha) throw new Error(`device refused the model: ${s.error ?? `runs ${s.sha256}`}`);
    return { sha256: s.sha256, model: s.model };
  }

  async close(): Promise<void> {
    await Promise.all([this.#status?.close(), this.#control?.close()]);
  }
}
