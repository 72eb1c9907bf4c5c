import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import type { ServiceConfig } from './config';
import { PacketBatch } from './packet-batch';

/** Takes a received PUBLISH; `admitted` lets the client read the next packet from its socket. */
export type MessageHandler = (packet: IPublishPacket, admitted: () => void) => void;

interface PacketLike {
  cmd: string;
  messageId?: number;
}
type SendPacket = (packet: PacketLike, cb?: () => void, cbStorePut?: () => void, noStore?: boolean) => void;

/** The parts of mqtt.js 5's client (pinned in package.json) the batched publish path uses. */
interface ClientInternals {
  stream: NodeJS.WritableStream & { destroyed?: boolean };
  connected: boolean;
  disconnecting: boolean;
  _storeProcessing: boolean;
  _storeProcessingQueue: unknown[];
  outgoing: Record<number, { volatile: boolean; cmd: string; cb: (err?: Error) => void }>;
  outgoingStore: { put(packet: object, cb?: () => void): unknown };
  messageIdProvider: { allocate(): number | null };
}

/** Called once a result is with the broker (QoS 1: its PUBACK came) or written to the socket (QoS 0). */
export type PublishDone = (err?: Error) => void;

const noop = (): void => undefined;
/** A batch larger than this is written at once rather than at the end of the event-loop turn. */
const FLUSH_BYTES = 1 << 20;

interface Hold {
  /** The PUBACK mqtt.js wanted to send, kept until the reading's result is out. */
  send: (() => void) | undefined;
  finished: boolean;
}

/**
 * The MQTT client: a persistent session, reconnect with exponential backoff
 * and jitter, and QoS 1 acknowledgements held until the reading's result was
 * handed to the broker, so a crash between receipt and result makes the
 * broker deliver the reading again.
 *
 * mqtt.js sends the PUBACK when handleMessage calls back, and reads the next
 * packet only then; calling back at admission keeps batching possible while
 * the PUBACK itself is intercepted (mqtt.js 5's `_sendPacket`, pinned in
 * package.json) and released by `finish(messageId)`.
 */
export class BrokerConnection {
  readonly client: MqttClient;
  readonly #cfg: ServiceConfig;
  readonly #log: Logger;
  readonly #holds = new Map<number, Hold>();
  #attempt = 0;
  #timer: NodeJS.Timeout | undefined;
  #closing = false;
  readonly #internals: ClientInternals;
  #batch: PacketBatch;
  /** QoS 0 results of the batch: done once the batch is written. */
  #written: PublishDone[] = [];
  #flushScheduled = false;
  /** Bumped on every disconnect: holds of an earlier connection must never be acked on a later one. */
  generation = 0;
  onConnect: (() => void) | undefined;
  onDisconnect: (() => void) | undefined;
  /** The broker answered CONNACK with a refusal: retrying with the same credentials will not help. */
  onRefused: ((err: Error) => void) | undefined;

  constructor(cfg: ServiceConfig, url: string, log: Logger, handler: MessageHandler) {
    this.#cfg = cfg;
    this.#log = log;
    const opts: IClientOptions = {
      clientId: cfg.clientId,
      protocolVersion: cfg.protocolVersion,
      clean: cfg.cleanStart,
      keepalive: cfg.keepalive,
      reconnectPeriod: 0, // reconnects are ours: backoff with jitter
      connectTimeout: 10_000,
      resubscribe: true,
      ...(cfg.username !== undefined ? { username: cfg.username } : {}),
      ...(cfg.password !== undefined ? { password: cfg.password } : {}),
      ...(cfg.tls.ca ? { ca: cfg.tls.ca } : {}),
      ...(cfg.tls.cert ? { cert: cfg.tls.cert, key: cfg.tls.key } : {}),
      rejectUnauthorized: cfg.tls.rejectUnauthorized,
      ...(cfg.protocolVersion === 5 ? { properties: { sessionExpiryInterval: cfg.cleanStart ? 0 : cfg.sessionExpirySeconds, receiveMaximum: 65535 } } : {}),
      manualConnect: true,
      // Per packet, mqtt.js reschedules its ping timer and formats debug lines; neither is needed at tens of thousands of packets/s.
      reschedulePings: false,
      ...(/mqttjs/.test(process.env['DEBUG'] ?? '') ? {} : { log: noop }),
    };
    this.client = mqtt.connect(url, opts);
    this.#internals = this.client as unknown as ClientInternals;
    this.#batch = new PacketBatch(cfg.protocolVersion);
    this.#interceptAcks();
    this.client.handleMessage = (packet, callback) => {
      if (packet.qos === 1 && packet.messageId !== undefined) this.#holds.set(packet.messageId, { send: undefined, finished: false });
      handler(packet, () => callback());
    };
    this.client.on('connect', (connack) => {
      this.#attempt = 0;
      log.info({ sessionPresent: connack.sessionPresent }, 'connected to broker');
      this.onConnect?.();
    });
    this.client.on('close', () => {
      this.generation++;
      this.#flush(); // dropped: the connection is gone
      this.#holds.clear(); // the broker redelivers these; acking them on a new connection could ack other messages
      this.onDisconnect?.();
      if (!this.#closing) this.#scheduleReconnect();
    });
    this.client.on('error', (e) => {
      log.warn({ err: e.message }, 'broker connection error');
      // A CONNACK refusal (bad credentials, not authorized, bad client id) carries a numeric reason code.
      const code = (e as Error & { code?: unknown }).code;
      if (typeof code === 'number' && code > 0 && e.message.startsWith('Connection refused')) this.onRefused?.(e);
    });
  }

  connect(): void {
    this.client.connect();
  }

  /** The reading behind `messageId` is done (result published or reading rejected): let its PUBACK go. */
  finish(messageId: number | undefined, generation: number): void {
    if (messageId === undefined || generation !== this.generation) return;
    const h = this.#holds.get(messageId);
    if (!h) return;
    if (h.send) {
      this.#holds.delete(messageId);
      h.send();
    } else h.finished = true;
  }

  /**
   * Publishes a result. QoS 0 and 1 on a live connection take the batched
   * path: the packet is encoded into the current batch and registered with
   * mqtt.js exactly as its own publish would (outgoing callback, outgoing
   * store: resent after a reconnect), and the batch is written in one go at
   * the end of the event-loop turn. Anything else goes through mqtt.js.
   */
  publish(topic: string, payload: string, qos: 0 | 1 | 2, done: PublishDone = noop): void {
    const c = this.#internals;
    if (qos === 2 || !c.connected || c.disconnecting || c._storeProcessing || c._storeProcessingQueue.length > 0) {
      this.#flush(); // what is batched goes first
      this.client.publish(topic, payload, { qos }, done);
      return;
    }
    if (qos === 1) {
      const messageId = c.messageIdProvider.allocate();
      if (messageId === null) {
        this.#flush();
        this.client.publish(topic, payload, { qos }, done);
        return;
      }
      c.outgoing[messageId] = { volatile: false, cmd: 'publish', cb: done };
      c.outgoingStore.put({ cmd: 'publish', topic, payload, qos: 1, retain: false, messageId, dup: false });
      this.#batch.publish(topic, payload, 1, messageId);
    } else {
      this.#batch.publish(topic, payload, 0, 0);
      if (done !== noop) this.#written.push(done);
    }
    this.#scheduleFlush();
  }

  #scheduleFlush(): void {
    if (this.#batch.bytes >= FLUSH_BYTES) this.#flush();
    else if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => {
        this.#flushScheduled = false;
        this.#flush();
      });
    }
  }

  /** Writes the batch. On a dead connection it is dropped: QoS 1 results are resent from the store, unsent PUBACKs make the broker redeliver. */
  #flush(): void {
    if (this.#batch.count === 0) return;
    const buf = this.#batch.take();
    const written = this.#written;
    this.#written = [];
    const c = this.#internals;
    const call = (): void => {
      for (const w of written) w();
    };
    if (!c.connected || c.stream.destroyed) call();
    else if (written.length > 0) c.stream.write(buf, call);
    else c.stream.write(buf);
  }

  /** Holds waiting for their reading: an upper bound on unacknowledged readings. */
  get held(): number {
    return this.#holds.size;
  }

  async close(): Promise<void> {
    this.#flush();
    this.#closing = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.client.endAsync();
  }

  #scheduleReconnect(): void {
    if (this.#timer) return;
    // Exponential backoff with "equal jitter": half fixed, half random, so a fleet of gateways does not reconnect in step.
    const base = Math.min(this.#cfg.reconnectMaxMs, this.#cfg.reconnectMinMs * 2 ** Math.min(this.#attempt, 20));
    const delay = base / 2 + Math.random() * (base / 2);
    this.#attempt++;
    this.#log.info({ attempt: this.#attempt, delayMs: Math.round(delay) }, 'broker disconnected; reconnecting');
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      // mqtt.js's reconnect() without arguments replaces the stores with empty ones, losing the
      // QoS 1/2 results not yet acknowledged by the broker; passing them keeps them for resending.
      if (!this.#closing) this.client.reconnect({ incomingStore: this.client.incomingStore, outgoingStore: this.client.outgoingStore });
    }, delay);
  }

  #interceptAcks(): void {
    const c = this.client as unknown as { _sendPacket: SendPacket };
    const original = c._sendPacket.bind(this.client);
    c._sendPacket = (packet, cb, cbStorePut, noStore) => {
      if (packet.cmd === 'puback' && packet.messageId !== undefined) {
        const h = this.#holds.get(packet.messageId);
        if (h && !h.finished) {
          const id = packet.messageId;
          const generation = this.generation;
          // Batched with the results: a batch's PUBACKs reach the socket in one write.
          h.send = () => {
            if (generation !== this.generation) return;
            this.#batch.puback(id);
            this.#scheduleFlush();
          };
          cb?.(); // lets mqtt.js read on; the PUBACK itself waits
          return;
        }
        this.#holds.delete(packet.messageId);
      }
      original(packet, cb, cbStorePut, noStore);
    };
  }
}
