import mqtt, { Store, type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import type { ServiceConfig } from './config';
import { AckHolds, ASKED, FINISHED, WAITING } from './ack-holds';
import { PacketBatch } from './packet-batch';
import { PublishReader, type ByteSource, type PacketSink } from './publish-reader';
import { within } from '../util/deadline';
import type { BatchResults } from '../engine/batch-results';
import { batchResultJson } from '../engine/result-json';
import { writeBatchResult } from '../engine/result-bytes';

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
  outgoingStore: { put(packet: object, cb?: () => void): unknown; del(packet: { messageId: number }, cb: (err: Error | null) => void): unknown };
  messageIdProvider: { allocate(): number | null; deallocate(id: number): void };
  _invokeStoreProcessingQueue(): boolean;
  streamBuilder: (client: MqttClient) => NodeJS.ReadWriteStream;
}

/** Called once a result is with the broker (QoS 1: its PUBACK came) or written to the socket (QoS 0). */
export type PublishDone = (err?: Error) => void;

const noop = (): void => undefined;
/** A batch larger than this is written at once rather than at the end of the event-loop turn. */
const FLUSH_BYTES = 1 << 20;
/**
 * Bytes not yet written to the socket beyond which a droppable message (an error report, QoS 0) is dropped:
 * queued, they had no bound (a 1M-payload fuzz flood left ~800,000 reports, ~60 MB of heap, in the socket's
 * buffer while the broker read slower than the service wrote).
 */
export const DROPPABLE_BUFFER_BYTES = 4 << 20;

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
  /** QoS 1 readings whose PUBACK waits, by key (the message id unless the broker reused one still held). */
  readonly #holds = new AckHolds();
  /** The key of the delivery whose PUBACK mqtt.js is asking for right now (its handleMessage path names only the id). */
  #asking = -1;
  #attempt = 0;
  #timer: NodeJS.Timeout | undefined;
  #closing = false;
  readonly #internals: ClientInternals;
  #batch: PacketBatch;
  /** QoS 0 results of the batch: done once the batch is written. */
  #written: PublishDone[] = [];
  #flushScheduled = false;
  /** Readings taken from the socket, results published and their PUBACKs received: progress that tells a late PINGRESP from a dead broker. */
  #received = 0;
  /** Bumped on every disconnect: holds of an earlier connection must never be acked on a later one. */
  generation = 0;
  onConnect: (() => void) | undefined;
  onDisconnect: (() => void) | undefined;
  /** The broker answered CONNACK with a refusal: retrying with the same credentials will not help. */
  onRefused: ((err: Error) => void) | undefined;

  constructor(cfg: ServiceConfig, url: string, log: Logger, handler: MessageHandler) {
    const handle = handler;
    handler = (packet, admitted) => {
      this.#received++;
      handle(packet, admitted);
    };
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
    this.#keepaliveByProgress();
    this.client.handleMessage = (packet, callback) => {
      if (packet.qos !== 1 || packet.messageId === undefined) return handler(packet, () => callback());
      const key = this.#take(packet.messageId, WAITING);
      packet.messageId = key; // the handler's finish names this delivery, not every one with its id
      handler(packet, () => {
        this.#asking = key;
        callback(); // mqtt.js asks for the PUBACK at once (_sendPacket below)
        this.#asking = -1;
      });
    };
    this.#readPublishes(handler);
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

  /**
   * The reading behind `messageId` is done (result published or reading rejected): let its PUBACK go. `messageId`
   * is the one the handler was given: the delivery's key (AckHolds), which differs from the packet's id on the
   * wire when the broker reused an id still held.
   */
  finish(messageId: number | undefined, generation: number): void {
    if (messageId === undefined || generation !== this.generation) return;
    const h = this.#holds.get(messageId);
    if (h === ASKED) {
      this.#holds.release(messageId, this.#sendPuback);
      this.#scheduleFlush();
    } else if (h === WAITING) this.#holds.set(messageId, FINISHED);
  }

  /** Holds a QoS 1 delivery; its key (AckHolds). The broker reusing an id still held is said once. */
  #take(messageId: number, state: number): number {
    const key = this.#holds.take(messageId, state);
    if (key !== messageId && this.#holds.reused === 1) this.#log.warn({ messageId }, 'the broker sent a message id that is still unacknowledged (Mosquitto 2.0 does past a long-held reading); each delivery is acknowledged on its own, in order');
    return key;
  }

  /** Batched with the results: a batch's PUBACKs reach the socket in one write. */
  readonly #sendPuback = (messageId: number): void => this.#batch.puback(messageId);

  /** Deliveries whose message id the broker sent again while the earlier one was still held. */
  get reusedIds(): number {
    return this.#holds.reused;
  }

  /**
   * PUBLISH and PUBACK packets are decoded by a PublishReader placed between
   * the socket and mqtt.js's parser (mqtt.js pipes its stream into its parser
   * on every connect); all other packets still reach mqtt.js, in order.
   */
  #readPublishes(handler: MessageHandler): void {
    const c = this.#internals;
    const build = c.streamBuilder;
    const client = this.client;
    c.streamBuilder = (cl) => {
      const stream = build(cl);
      const sink = {
        ready: (): boolean => c.connected && !c.disconnecting,
        publish: (packet: IPublishPacket, admitted: () => void): void => {
          if (client.listenerCount('message') > 0) client.emit('message', packet.topic, packet.payload as Buffer, packet);
          if (packet.qos === 1) packet.messageId = this.#take(packet.messageId!, ASKED);
          handler(packet, admitted);
        },
        puback: (messageId: number): boolean => this.#acked(messageId),
      };
      // mqtt.js 5 calls stream.pipe(its parsing stream) once per connection (pinned in package.json).
      (stream as { pipe: unknown }).pipe = (dest: PacketSink) => {
        new PublishReader(stream as unknown as ByteSource, dest, sink, this.#cfg.protocolVersion);
        return dest;
      };
      return stream;
    };
  }

  /** The broker's PUBACK of a result: what mqtt.js's handleAck does for a publish (false: not one, mqtt.js handles it). */
  #acked(messageId: number): boolean {
    const c = this.#internals;
    const pending = c.outgoing[messageId];
    if (pending === undefined || pending.cmd !== 'publish') return false;
    this.#received++; // the broker is alive and this socket is being read: progress for the keepalive deferral
    delete c.outgoing[messageId];
    const store = c.outgoingStore;
    if ((store as { constructor: unknown }).constructor === Store) {
      // mqtt.js's memory store answers del synchronously: no key object or closure per acknowledgement.
      this.#delKey.messageId = messageId;
      this.#delErr = undefined;
      store.del(this.#delKey, this.#onDel);
      this.#afterAck(pending.cb, messageId, this.#delErr);
    } else store.del({ messageId }, (err: Error | null) => this.#afterAck(pending.cb, messageId, err ?? undefined));
    return true;
  }

  readonly #delKey = { messageId: 0 };
  #delErr: Error | undefined;
  readonly #onDel = (err: Error | null): void => {
    this.#delErr = err ?? undefined;
  };

  #afterAck(cb: (err?: Error) => void, messageId: number, err: Error | undefined): void {
    const c = this.#internals;
    cb(err);
    c.messageIdProvider.deallocate(messageId);
    c._invokeStoreProcessingQueue();
  }

  /**
   * Publishes a result. QoS 0 and 1 on a live connection take the batched
   * path: the packet is encoded into the current batch and registered with
   * mqtt.js exactly as its own publish would (outgoing callback, outgoing
   * store: resent after a reconnect), and the batch is written in one go at
   * the end of the event-loop turn. Anything else goes through mqtt.js.
   */
  publish(topic: string, payload: string, qos: 0 | 1 | 2, done: PublishDone = noop): void {
    const messageId = this.#batchable(qos);
    if (messageId < 0) return this.#unbatched(topic, payload, qos, done);
    if (qos === 1) {
      this.#store(topic, payload, messageId, done);
      this.#batch.publish(topic, payload, 1, messageId);
    } else {
      this.#batch.publish(topic, payload, 0, 0);
      if (done !== noop) this.#written.push(done);
    }
    this.#scheduleFlush();
  }

  /**
   * Publishes row i of a columnar batch as its result JSON (batchResultJson), written as bytes straight
   * into the packet batch: no payload string at QoS 0, and at QoS 1 only the one mqtt.js's store keeps.
   */
  publishRow(topic: string, b: BatchResults, i: number, qos: 0 | 1 | 2, done: PublishDone = noop): void {
    const messageId = this.#batchable(qos);
    if (messageId < 0) return this.#unbatched(topic, batchResultJson(b, i), qos, done);
    const batch = this.#batch;
    batch.beginPublish(topic, qos as 0 | 1, messageId);
    try {
      writeBatchResult(batch, b, i);
    } catch (err) {
      // No half-written packet may reach the socket, and the id goes back.
      batch.abortPublish();
      if (qos === 1) this.#internals.messageIdProvider.deallocate(messageId);
      throw err;
    }
    batch.endPublish();
    if (qos === 1) this.#store(topic, batch.lastPayload(), messageId, done);
    else if (done !== noop) this.#written.push(done);
    this.#scheduleFlush();
  }

  /** The message id for a batched publish (0 at QoS 0), or -1: the publish goes through mqtt.js (QoS 2, no live connection, its store resending, no id free). */
  #batchable(qos: 0 | 1 | 2): number {
    this.#received++;
    const c = this.#internals;
    if (qos === 2 || !c.connected || c.disconnecting || c._storeProcessing || c._storeProcessingQueue.length > 0) return -1;
    if (qos === 0) return 0;
    return c.messageIdProvider.allocate() ?? -1;
  }

  #unbatched(topic: string, payload: string, qos: 0 | 1 | 2, done: PublishDone): void {
    this.#flush(); // what is batched goes first
    this.client.publish(topic, payload, { qos }, done);
  }

  /** Registers a batched QoS 1 publish with mqtt.js exactly as its own publish would (outgoing callback, outgoing store: resent after a reconnect). */
  #store(topic: string, payload: string, messageId: number, done: PublishDone): void {
    const c = this.#internals;
    c.outgoing[messageId] = { volatile: false, cmd: 'publish', cb: done };
    c.outgoingStore.put({ cmd: 'publish', topic, payload, qos: 1, retain: false, messageId, dup: false });
  }

  /**
   * Publishes a QoS 0 message that may be lost (an error report), batched with the results. Dropped (false)
   * while the connection is down or its socket holds more than DROPPABLE_BUFFER_BYTES not yet written, so a
   * broker slower than the flood of rejected readings costs reports, never unbounded memory.
   */
  publishDroppable(topic: string, payload: string): boolean {
    const c = this.#internals;
    if (!c.connected || c.disconnecting || c.stream.destroyed || this.writeBuffered + this.#batch.bytes > DROPPABLE_BUFFER_BYTES) return false;
    this.publish(topic, payload, 0);
    return true;
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
    const batch = this.#batch;
    if (!c.connected || c.stream.destroyed) {
      for (const w of written) w();
      return;
    }
    // Once written, the buffer encodes a later batch (no allocation per batch).
    c.stream.write(buf, (err?: Error | null) => {
      if (!err) batch.recycle(buf);
      for (const w of written) w();
    });
  }

  /** Payloads published on topics starting with `prefix` and not yet acknowledged by the broker (mqtt.js's outgoing store). */
  async unacked(prefix: string): Promise<string[]> {
    const out = new Set<string>();
    for await (const p of this.client.outgoingStore.createStream() as AsyncIterable<{ cmd?: string; topic?: string; payload?: Buffer | string }>) {
      if (p.cmd !== 'publish' || p.topic === undefined || p.payload === undefined || !p.topic.startsWith(prefix)) continue;
      out.add(typeof p.payload === 'string' ? p.payload : p.payload.toString('utf8'));
    }
    return [...out];
  }

  /** QoS 1 results (and other publishes) handed to mqtt.js and not yet acknowledged by the broker. */
  get resultsUnacked(): number {
    let n = 0;
    for (const _ in this.#internals.outgoing) n++;
    return n;
  }

  /** Bytes written to the socket object and still in its buffer (the broker reads slower than the service writes). */
  get writeBuffered(): number {
    return (this.#internals.stream as { writableLength?: number } | undefined)?.writableLength ?? 0;
  }

  /** Holds waiting for their reading: an upper bound on unacknowledged readings. */
  get held(): number {
    return this.#holds.size;
  }

  /**
   * Disconnects: a clean DISCONNECT when the broker is there, at most `timeoutMs`; then (or at once while the
   * broker is down) a forced close, so a shutdown never waits for a broker that does not answer.
   */
  async close(timeoutMs = 2000): Promise<void> {
    this.#flush();
    this.#closing = true;
    if (this.#timer) clearTimeout(this.#timer);
    if (this.client.connected && (await within(this.client.endAsync(), timeoutMs))) return;
    await within(this.client.endAsync(true), timeoutMs);
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

  /**
   * mqtt.js closes the connection when no PINGRESP is read within half a keepalive of its PINGREQ. Under a
   * flood the PINGRESP queues behind every reading the broker sent first (up to the receive maximum: 28,272
   * of them in a 200k fuzz run), which this client reads only as fast as it steps them: a starved CPU took
   * over 45 s, the connection was closed, and the broker redelivered all it held. A timeout is therefore
   * deferred while the client makes progress since the PINGREQ went out: readings taken from the socket,
   * or, while its queue is full and it reads nothing, results published for the readings it holds (a 500k
   * run timed out at the end of the flood, blocked on one reading with nothing more to take), or PUBACKs of
   * results received (after a 1M flood the broker acknowledged results at ~100/s while its PINGRESP lagged
   * behind; the client, waiting for those acknowledgements, published nothing). With none of these the
   * connection closes as before: a dead broker is noticed at most a queue's drain later.
   */
  #keepaliveByProgress(): void {
    const c = this.client as unknown as { onKeepaliveTimeout(): void; sendPing(): void; keepaliveManager: { reschedule(): void } | null };
    const timeout = c.onKeepaliveTimeout.bind(this.client);
    const ping = c.sendPing.bind(this.client);
    let seen = this.#received;
    c.sendPing = () => {
      seen = this.#received;
      ping();
    };
    c.onKeepaliveTimeout = () => {
      if (this.#received !== seen && c.keepaliveManager) {
        this.#log.info({ progress: this.#received - seen }, 'PINGRESP late while readings, results or acknowledgements move; keepalive deferred');
        c.keepaliveManager.reschedule(); // another PINGREQ after a keepalive
        return;
      }
      timeout();
    };
  }

  #interceptAcks(): void {
    const c = this.client as unknown as { _sendPacket: SendPacket };
    const original = c._sendPacket.bind(this.client);
    c._sendPacket = (packet, cb, cbStorePut, noStore) => {
      if (packet.cmd === 'puback' && packet.messageId !== undefined) {
        const key = this.#asking >= 0 ? this.#asking : packet.messageId;
        const h = this.#holds.get(key);
        if (h === WAITING) {
          this.#holds.set(key, ASKED);
          cb?.(); // lets mqtt.js read on; the PUBACK itself waits (finish sends it)
          return;
        }
        if (h === FINISHED) {
          // In delivery order (AckHolds): it may wait for an earlier one; the PUBACKs go with the next batch.
          this.#holds.release(key, this.#sendPuback);
          this.#scheduleFlush();
          cb?.();
          return;
        }
      }
      original(packet, cb, cbStorePut, noStore);
    };
  }
}
