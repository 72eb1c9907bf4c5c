import type { IPublishPacket } from 'mqtt';

/** What the reader does with the packets it decodes itself. */
export interface PublishSink {
  /** May the reader decode packets now (the client has its CONNACK)? Otherwise everything goes to mqtt.js. */
  ready(): boolean;
  /** A PUBLISH at QoS 0 or 1; `admitted` lets the reader go on with the next packet. */
  publish(packet: IPublishPacket, admitted: () => void): void;
  /** A successful PUBACK (reason code 0 or 16); false: let mqtt.js handle it instead. */
  puback(messageId: number): boolean;
}

/** The parts of a socket the reader uses (net.Socket, tls.TLSSocket, mqtt.js's websocket duplex). */
export interface ByteSource {
  on(event: 'data', fn: (chunk: Buffer) => void): unknown;
  on(event: 'end', fn: () => void): unknown;
  pause(): unknown;
  resume(): unknown;
}

/** Where the other packets go: mqtt.js's own parsing stream. */
export interface PacketSink {
  write(chunk: Buffer, cb: (err?: Error | null) => void): boolean;
  end(): unknown;
}

const PUBLISH = 3;
const PUBACK = 4;

/**
 * The client's inbound path for the packets that make up the traffic: a
 * PUBLISH at QoS 0/1 and a PUBACK are decoded here, in a loop over each
 * socket chunk, instead of by mqtt-packet's parser and mqtt.js's per-packet
 * dispatch (one process.nextTick, several closures and a packet object per
 * packet). Every other packet (CONNACK, SUBACK, PINGRESP, QoS 2, a PUBLISH
 * with a topic alias, anything malformed) goes to mqtt.js's stream,
 * unchanged and whole; the reader waits until mqtt.js has handled it before
 * going on, so the order of packets is kept across the two paths. A PUBLISH
 * whose handler does not call `admitted` at once pauses the socket (the
 * backpressure mqtt.js applies the same way). MQTT 3.1.1 and 5 (a v5
 * PUBLISH with properties goes to mqtt.js).
 */
export class PublishReader {
  readonly #src: ByteSource;
  readonly #dest: PacketSink;
  readonly #sink: PublishSink;
  readonly #v5: boolean;
  /** Bytes received and not yet handled (a packet split across chunks). */
  #buf: Buffer = Buffer.alloc(0);
  #off = 0;
  /** Waiting for a handler's `admitted` or for mqtt.js to finish a packet it was given. */
  #blocked = false;
  #pumping = false;
  #again = false;
  #paused = false;
  /** A malformed length: from here on every byte goes to mqtt.js, which reports the error. */
  #passThrough = false;
  #ended = false;
  /** Packets decoded here (tests: evidence that the fast path ran). */
  decoded = 0;

  constructor(src: ByteSource, dest: PacketSink, sink: PublishSink, protocolVersion: number) {
    this.#src = src;
    this.#dest = dest;
    this.#sink = sink;
    this.#v5 = protocolVersion === 5;
    src.on('data', (chunk) => this.#data(chunk));
    src.on('end', () => {
      this.#ended = true;
      this.#pump();
    });
  }

  #data(chunk: Buffer): void {
    if (this.#passThrough) {
      this.#forward(chunk);
      return;
    }
    const rest = this.#buf.length - this.#off;
    this.#buf = rest === 0 ? chunk : Buffer.concat([this.#buf.subarray(this.#off), chunk]);
    this.#off = 0;
    this.#pump();
  }

  /** Handles complete packets until one makes it wait, then pauses the socket until it is done. */
  #pump(): void {
    if (this.#pumping) {
      this.#again = true;
      return;
    }
    this.#pumping = true;
    do {
      this.#again = false;
      this.#loop();
    } while (this.#again && !this.#blocked);
    this.#pumping = false;
    if (this.#blocked) {
      if (!this.#paused) {
        this.#paused = true;
        this.#src.pause();
      }
      return;
    }
    if (this.#ended && this.#buf.length - this.#off === 0) {
      this.#ended = false;
      this.#dest.end();
    }
    if (this.#paused) {
      this.#paused = false;
      this.#src.resume();
    }
  }

  #loop(): void {
    const b = this.#buf;
    while (!this.#blocked) {
      const start = this.#off;
      if (b.length - start < 2) return;
      // Remaining length: 1 to 4 bytes, 7 bits each.
      let rem = 0;
      let mul = 1;
      let o = start + 1;
      let byte: number;
      do {
        if (o >= b.length) return; // length not complete yet
        if (o - start > 4) return this.#toPassThrough();
        byte = b[o++]!;
        rem += (byte & 0x7f) * mul;
        mul *= 128;
      } while ((byte & 0x80) !== 0);
      const end = o + rem;
      if (end > b.length) return; // body not complete yet
      const first = b[start]!;
      const type = first >> 4;
      if (this.#sink.ready()) {
        if (type === PUBLISH && (first & 0x06) !== 0x06 && ((first >> 1) & 3) < 2) {
          const p = this.#publish(b, first, o, end);
          if (p !== undefined) {
            this.#off = end;
            this.decoded++;
            this.#handle(p);
            continue;
          }
        } else if (type === PUBACK && rem >= 2 && this.#ackOk(b, o, rem) && this.#sink.puback((b[o]! << 8) | b[o + 1]!)) {
          this.#off = end;
          this.decoded++;
          continue;
        }
      }
      // Everything else: to mqtt.js, whole, and wait until it is handled.
      this.#off = end;
      this.#forward(b.subarray(start, end));
    }
  }

  /** A v5 PUBACK is handled here only when it is a success without properties. */
  #ackOk(b: Buffer, o: number, rem: number): boolean {
    if (rem === 2) return true;
    if (!this.#v5) return false;
    const rc = b[o + 2]!;
    if (rc !== 0 && rc !== 16) return false;
    return rem === 3 || (rem === 4 && b[o + 3] === 0);
  }

  /** Decodes a PUBLISH at QoS 0/1; undefined when mqtt.js must see it (a topic alias, a malformed packet). */
  #publish(b: Buffer, first: number, o: number, end: number): IPublishPacket | undefined {
    const qos = ((first >> 1) & 3) as 0 | 1;
    const bodyStart = o;
    if (end - o < 2) return undefined;
    const tl = (b[o]! << 8) | b[o + 1]!;
    o += 2;
    if (o + tl > end) return undefined;
    const topic = b.toString('utf8', o, o + tl);
    o += tl;
    let messageId: number | undefined;
    if (qos > 0) {
      if (o + 2 > end) return undefined;
      messageId = (b[o]! << 8) | b[o + 1]!;
      o += 2;
    }
    if (this.#v5) {
      if (o >= end) return undefined;
      if (b[o] !== 0) return undefined; // properties (topic alias, user properties): mqtt.js decodes it
      o += 1;
    }
    if (topic.length === 0) return undefined; // an alias or a protocol error: mqtt.js's to answer
    const packet: IPublishPacket = {
      cmd: 'publish', retain: (first & 1) === 1, qos, dup: (first & 8) === 8, length: end - bodyStart, topic, payload: b.subarray(o, end),
    };
    if (messageId !== undefined) packet.messageId = messageId;
    return packet;
  }

  #handle(p: IPublishPacket): void {
    let sync = true;
    let called = false;
    this.#blocked = true;
    this.#sink.publish(p, () => {
      if (called) return;
      called = true;
      this.#blocked = false;
      if (!sync) this.#pump();
    });
    sync = false;
  }

  #toPassThrough(): void {
    this.#passThrough = true;
    const rest = this.#buf.subarray(this.#off);
    this.#buf = Buffer.alloc(0);
    this.#off = 0;
    if (rest.length > 0) this.#forward(rest);
  }

  #forward(chunk: Buffer): void {
    this.#blocked = true;
    this.#dest.write(chunk, () => {
      this.#blocked = false;
      this.#pump();
    });
  }
}
