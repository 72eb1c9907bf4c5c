/**
 * A minimal MQTT 3.1.1 client over a raw TCP socket, for the bench's load
 * generator and result collector only: it encodes a whole tick's PUBLISH
 * packets into one buffer and writes it once, and parses incoming PUBLISH
 * packets without allocating a packet object, so the bench itself stays far
 * from being the bottleneck it measures (mqtt.js costs several microseconds
 * per message on each side). No reconnect, no QoS 2, no session: a bench tool.
 */
import { connect, type Socket } from 'node:net';
import { once } from 'node:events';

export type OnPublish = (topic: string, payload: Buffer, at: number) => void;

export class RawMqtt {
  readonly socket: Socket;
  /** PUBACKs received for our own QoS 1 publishes. */
  acked = 0;
  onPublish: OnPublish | undefined;
  #buf: Buffer = Buffer.alloc(0);
  #nextId = 1;
  #out: Buffer = Buffer.allocUnsafe(1 << 20);
  #outLen = 0;
  #waiters: { type: number; resolve: () => void }[] = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('error', () => undefined);
  }

  static async connect(port: number, clientId: string): Promise<RawMqtt> {
    const socket = connect(port, '127.0.0.1');
    await once(socket, 'connect');
    const c = new RawMqtt(socket);
    const id = Buffer.from(clientId);
    // CONNECT: protocol "MQTT" level 4, clean session, keepalive 0 (no pings during a measurement).
    const vh = Buffer.from([0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x02, 0, 0, id.length >> 8, id.length & 0xff]);
    const body = Buffer.concat([vh, id]);
    const acked = c.#wait(2);
    socket.write(Buffer.concat([Buffer.from([0x10]), varint(body.length), body]));
    await acked;
    return c;
  }

  async subscribe(filter: string, qos: 0 | 1): Promise<void> {
    const f = Buffer.from(filter);
    const body = Buffer.concat([Buffer.from([0, 1, f.length >> 8, f.length & 0xff]), f, Buffer.from([qos])]);
    const acked = this.#wait(9);
    this.socket.write(Buffer.concat([Buffer.from([0x82]), varint(body.length), body]));
    await acked;
  }

  /** Appends one PUBLISH to the pending write; `flush` sends all appended at once. Topic and payload are ASCII. */
  add(topic: string, payload: string, qos: 0 | 1): void {
    const tl = topic.length;
    const rem = 2 + tl + (qos ? 2 : 0) + payload.length;
    const need = this.#outLen + rem + 5;
    if (need > this.#out.length) {
      const bigger = Buffer.allocUnsafe(Math.max(need, this.#out.length * 2));
      this.#out.copy(bigger, 0, 0, this.#outLen);
      this.#out = bigger;
    }
    const b = this.#out;
    let o = this.#outLen;
    b[o++] = qos ? 0x32 : 0x30;
    let r = rem;
    do {
      let byte = r & 0x7f;
      r >>>= 7;
      if (r > 0) byte |= 0x80;
      b[o++] = byte;
    } while (r > 0);
    b[o++] = tl >> 8;
    b[o++] = tl & 0xff;
    o += b.write(topic, o, 'latin1');
    if (qos) {
      const id = this.#nextId;
      this.#nextId = id === 65535 ? 1 : id + 1;
      b[o++] = id >> 8;
      b[o++] = id & 0xff;
    }
    o += b.write(payload, o, 'latin1');
    this.#outLen = o;
  }

  flush(): void {
    if (this.#outLen === 0) return;
    this.socket.write(Buffer.from(this.#out.subarray(0, this.#outLen)));
    this.#outLen = 0;
  }

  async end(): Promise<void> {
    this.socket.end(Buffer.from([0xe0, 0]));
    if (!this.socket.closed) await once(this.socket, 'close');
  }

  #wait(type: number): Promise<void> {
    return new Promise((resolve) => this.#waiters.push({ type, resolve }));
  }

  #onData(chunk: Buffer): void {
    const at = performance.now();
    const b = this.#buf.length > 0 ? Buffer.concat([this.#buf, chunk]) : chunk;
    let o = 0;
    let acks: number[] | undefined;
    for (;;) {
      if (b.length - o < 2) break;
      let rem = 0;
      let mul = 1;
      let p = o + 1;
      let complete = true;
      for (;;) {
        if (p >= b.length) {
          complete = false;
          break;
        }
        const byte = b[p++]!;
        rem += (byte & 0x7f) * mul;
        mul *= 128;
        if ((byte & 0x80) === 0) break;
      }
      if (!complete || b.length - p < rem) break;
      const type = b[o]! >> 4;
      if (type === 3) {
        const qos = (b[o]! >> 1) & 3;
        const tl = (b[p]! << 8) | b[p + 1]!;
        const topic = b.toString('latin1', p + 2, p + 2 + tl);
        let q = p + 2 + tl;
        if (qos > 0) {
          (acks ??= []).push((b[q]! << 8) | b[q + 1]!);
          q += 2;
        }
        this.onPublish?.(topic, b.subarray(q, p + rem), at);
      } else if (type === 4) this.acked++;
      else {
        const i = this.#waiters.findIndex((w) => w.type === type);
        if (i >= 0) this.#waiters.splice(i, 1)[0]!.resolve();
      }
      o = p + rem;
    }
    this.#buf = o < b.length ? Buffer.from(b.subarray(o)) : Buffer.alloc(0);
    if (acks) {
      const out = Buffer.allocUnsafe(acks.length * 4);
      for (let i = 0; i < acks.length; i++) {
        out[i * 4] = 0x40;
        out[i * 4 + 1] = 2;
        out[i * 4 + 2] = acks[i]! >> 8;
        out[i * 4 + 3] = acks[i]! & 0xff;
      }
      this.socket.write(out);
    }
  }
}

function varint(n: number): Buffer {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return Buffer.from(out);
}

export interface PacedOptions {
  seconds: number;
  /** Readings per second; undefined floods, bounded by `window`. */
  rate: number | undefined;
  /** Most readings sent and not yet answered. */
  window: number;
  /** Most readings sent in all (the size of `sentAt`). */
  cap: number;
  /** Gets the send time of reading i. */
  sentAt: Float64Array;
  /** How many readings have been answered so far. */
  answered: () => number;
  /** Queues reading i on the publisher. */
  add: (i: number) => void;
}

export interface PacedRun {
  sent: number;
  t0: number;
  end: number;
  /** When the last answer arrived (answers on their way at `end` are waited for, up to 10 s). */
  last: number;
}

/**
 * Sends readings for `seconds`: flooding (yield to I/O between bursts, sleep
 * rather than spin while the window is full) or paced (one burst per
 * millisecond; the send time is recorded per burst). Then waits for late
 * answers, up to 10 s.
 */
export async function sendReadings(pub: RawMqtt, o: PacedOptions): Promise<PacedRun> {
  let sent = 0;
  const t0 = performance.now();
  const end = t0 + o.seconds * 1000;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now();
      if (now >= end || sent >= o.cap) return resolve();
      const target = o.rate === undefined ? Infinity : Math.floor(((now - t0) / 1000) * o.rate);
      let n = 0;
      while (sent < target && sent - o.answered() < o.window && n < 5000 && sent < o.cap) {
        o.sentAt[sent] = now;
        o.add(sent);
        sent++;
        n++;
      }
      pub.flush();
      if (o.rate === undefined && n > 0) setImmediate(tick);
      else setTimeout(tick, 1);
    };
    tick();
  });
  let last = performance.now();
  for (let i = 0; i < 500 && o.answered() < sent; i++) {
    const before = o.answered();
    await new Promise((r) => setTimeout(r, 20));
    if (o.answered() > before) last = performance.now();
  }
  if (o.answered() >= sent) last = Math.max(last, end);
  return { sent, t0, end, last };
}
