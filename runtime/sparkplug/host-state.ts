import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { boundedPublish } from './bounded-publish';
import { STATE_PREFIX } from './topic';

/** A STATE payload (Sparkplug 3.0, section 4.2.3): JSON `{"online": bool, "timestamp": epoch ms}`. */
export interface HostStatePayload {
  online: boolean;
  timestamp: number;
}

export interface HostStateOptions {
  /** The Sparkplug host id: STATE is published on `spBv1.0/STATE/<hostId>`. */
  hostId: string;
  /** Logs a STATE event (births, deaths, a foreign offline answered). */
  log(message: string, fields?: Record<string, unknown>): void;
}

/** The connection options of the STATE session, from the reading connection's (same broker, credentials, TLS). */
export function stateClientOptions(main: IClientOptions, clientId: string): IClientOptions {
  const keep = ['protocol', 'host', 'hostname', 'port', 'path', 'username', 'password', 'ca', 'cert', 'key', 'rejectUnauthorized', 'servername', 'protocolVersion', 'keepalive', 'wsOptions'] as const;
  const o: IClientOptions = {};
  for (const k of keep) if (main[k] !== undefined) (o as Record<string, unknown>)[k] = main[k];
  // Sparkplug 3.0 section 5.3: a host application connects with a clean session (MQTT 5: session expiry 0).
  return { ...o, clientId, clean: true, reconnectPeriod: 0, connectTimeout: 10_000, ...(o.protocolVersion === 5 ? { properties: { sessionExpiryInterval: 0 } } : {}) };
}

/**
 * edgelstm as a Sparkplug primary host application (Sparkplug 3.0,
 * sections 4.2.3 and 5.3): while the reading connection holds its session
 * (subscribed to the Sparkplug namespace), a STATE session of its own (its own
 * MQTT will: the reading connection's will may be the edge node's NDEATH or
 * Home Assistant's offline) says so on `spBv1.0/STATE/<host id>`:
 * CONNECT with the will `{"online":false,"timestamp":T}` (QoS 1, retained),
 * subscribe to its own STATE topic, then `{"online":true,"timestamp":T}`
 * (QoS 1, retained; T the CONNECT's time, as the will's). An `online: false`
 * on its topic while online (another client's, or a stale will) is answered
 * with the birth again. When the reading connection closes, and at stop, the
 * death `{"online":false,"timestamp":T}` is published (retained) and the STATE
 * session ends; if the process dies, the broker publishes the will.
 * Edge nodes that wait for this host id publish their births only while it
 * is online, and leave when it goes offline.
 */
export class SparkplugHostState {
  readonly topic: string;
  readonly #o: HostStateOptions;
  readonly #connect: (opts: IClientOptions) => MqttClient;
  #client: MqttClient | undefined;
  /** The current STATE session's timestamp (its will's, births' and death's). */
  #ts = 0;
  #born = false;

  constructor(o: HostStateOptions, connect: (opts: IClientOptions) => MqttClient) {
    this.#o = o;
    this.topic = `${STATE_PREFIX}${o.hostId}`;
    this.#connect = connect;
  }

  /** The STATE payload as published. */
  static payload(online: boolean, timestamp: number): string {
    return JSON.stringify({ online, timestamp } satisfies HostStatePayload);
  }

  /** The reading connection is up and subscribed: open the STATE session (a no-op while one is open). */
  readingUp(): void {
    this.#reopen = () => this.#open();
    this.#open();
  }

  #open(): void {
    if (this.#client !== undefined) return;
    const ts = Date.now();
    this.#ts = ts;
    this.#born = false;
    const c = this.#connect({ will: { topic: this.topic, payload: Buffer.from(SparkplugHostState.payload(false, ts)), qos: 1, retain: true } });
    this.#client = c;
    c.on('connect', () => {
      // Subscribe to our own STATE first (a foreign offline is answered), then the birth.
      c.subscribe(this.topic, { qos: 1 }, (err) => {
        if (err || this.#client !== c) return;
        c.publish(this.topic, SparkplugHostState.payload(true, ts), { qos: 1, retain: true }, (e) => {
          if (e || this.#client !== c) return;
          this.#born = true;
          this.#o.log('Sparkplug STATE online', { topic: this.topic, timestamp: ts });
        });
      });
    });
    c.on('message', (topic, payload) => {
      if (topic !== this.topic || !this.#born || this.#client !== c) return;
      let p: Partial<HostStatePayload> | undefined;
      try {
        p = JSON.parse(payload.toString('utf8')) as Partial<HostStatePayload>;
      } catch {
        p = undefined;
      }
      if (p?.online !== false) return;
      // Section 5.3: an offline on our own id while we are online is answered with the birth again.
      this.#o.log('Sparkplug STATE offline seen for this host while online: birth published again', { topic, timestamp: p.timestamp });
      c.publish(this.topic, SparkplugHostState.payload(true, ts), { qos: 1, retain: true });
    });
    // A STATE session lost on its own: its will said offline; the next one has a new timestamp.
    c.on('close', () => {
      if (this.#client !== c) return;
      this.#client = undefined;
      c.end(true);
      setTimeout(() => this.#client === undefined && this.#reopen?.(), 1000).unref();
    });
    c.on('error', () => undefined); // connection errors end in 'close'
  }

  /** Set while the reading connection is up: reopens a STATE session lost on its own. */
  #reopen: (() => void) | undefined;

  /** Whether the STATE session is open and its birth published. */
  get isOnline(): boolean {
    return this.#born;
  }

  /** The reading connection closed, or the service stops: the death (retained), then the STATE session ends. */
  async offline(): Promise<void> {
    this.#reopen = undefined;
    const c = this.#client;
    if (c === undefined) return;
    this.#client = undefined;
    this.#born = false;
    if (c.connected) await boundedPublish(c, this.topic, SparkplugHostState.payload(false, this.#ts), true);
    this.#o.log('Sparkplug STATE offline', { topic: this.topic, timestamp: this.#ts });
    await c.endAsync(true).catch(() => undefined);
  }
}

/** Connects the STATE session with options derived from the reading connection's. */
export function stateConnector(main: MqttClient, clientId: string): (opts: IClientOptions) => MqttClient {
  return (extra) => mqtt.connect({ ...stateClientOptions(main.options, clientId), ...extra });
}
