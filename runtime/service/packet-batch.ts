/**
 * MQTT PUBLISH and PUBACK packets encoded back to back into one buffer, so a
 * batch of results (and the PUBACKs they release) reaches the socket in one
 * write instead of several small writes per packet. MQTT 3.1.1 and 5 (no
 * properties); QoS 0 and 1; the caller owns the packet ids.
 */
export class PacketBatch {
  readonly #v5: boolean;
  #buf: Buffer;
  #len = 0;
  /** Buffers the socket is done with (recycle), used again for later batches. */
  readonly #spare: Buffer[] = [];
  /** Packets in the batch. */
  count = 0;

  constructor(protocolVersion: number, initialBytes = 64 * 1024) {
    this.#v5 = protocolVersion === 5;
    this.#buf = Buffer.allocUnsafeSlow(initialBytes);
  }

  get bytes(): number {
    return this.#len;
  }

  /** Appends a PUBLISH. `messageId` is ignored at QoS 0. */
  publish(topic: string, payload: string, qos: 0 | 1, messageId: number): void {
    const pl = Buffer.byteLength(payload);
    this.beginPublish(topic, qos, messageId);
    const b = this.#room(pl);
    this.#len += pl === payload.length ? b.write(payload, this.#len, pl, 'latin1') : b.write(payload, this.#len, pl, 'utf8');
    this.#wide = pl !== payload.length;
    this.endPublish();
  }

  /** Where the PUBLISH being written (beginPublish) starts, and its payload. */
  #pubStart = 0;
  #payStart = 0;
  /** The payload being written has a byte of U+0080 or above (its text is UTF-8, not Latin-1). */
  #wide = false;

  /**
   * Starts a PUBLISH whose payload is written next, as bytes (room, wrote: a JsonBytes), and closed by
   * endPublish: no payload string. The remaining length is reserved as 2 bytes (a payload of 128 bytes to
   * 16 KiB, a result's JSON) and moved once at the end for any other size.
   */
  beginPublish(topic: string, qos: 0 | 1, messageId: number): void {
    const tl = Buffer.byteLength(topic);
    const b = this.#room(3 + 2 + tl + 3);
    let o = this.#len;
    this.#pubStart = o;
    b[o] = 0x30 | (qos << 1);
    o += 3;
    b[o++] = tl >> 8;
    b[o++] = tl & 0xff;
    o += tl === topic.length ? b.write(topic, o, tl, 'latin1') : b.write(topic, o, tl, 'utf8');
    if (qos > 0) {
      b[o++] = messageId >> 8;
      b[o++] = messageId & 0xff;
    }
    if (this.#v5) b[o++] = 0; // no properties
    this.#len = o;
    this.#payStart = o;
    this.#wide = false;
  }

  /** The payload being written (JsonBytes): the buffer with `n` bytes free at `at`. */
  room(n: number): Buffer {
    return this.#room(n);
  }

  get at(): number {
    return this.#len;
  }

  wrote(n: number, wide: boolean): void {
    this.#len += n;
    if (wide) this.#wide = true;
  }

  /** Drops the PUBLISH beginPublish started (its writer failed): the batch is as it was before beginPublish. */
  abortPublish(): void {
    this.#len = this.#pubStart;
    this.#wide = false;
  }

  /** Closes the PUBLISH beginPublish started: its remaining length written, the payload moved if that is not 2 bytes. */
  endPublish(): void {
    const start = this.#pubStart;
    const rem = this.#len - (start + 3);
    const size = rem < 128 ? 1 : rem < 16384 ? 2 : rem < 2097152 ? 3 : 4;
    if (size !== 2) {
      const b = this.#room(2);
      b.copyWithin(start + 1 + size, start + 3, this.#len);
      this.#len += size - 2;
      this.#payStart += size - 2;
    }
    writeVarint(this.#buf, start + 1, rem);
    this.count++;
  }

  /** The payload of the PUBLISH endPublish just closed, as text (the copy mqtt.js's outgoing store keeps for a resend). */
  lastPayload(): string {
    return this.#buf.toString(this.#wide ? 'utf8' : 'latin1', this.#payStart, this.#len);
  }

  /** Appends a PUBACK (success; in MQTT 5 the reason code 0 may be left out). */
  puback(messageId: number): void {
    const b = this.#room(4);
    const o = this.#len;
    b[o] = 0x40;
    b[o + 1] = 2;
    b[o + 2] = messageId >> 8;
    b[o + 3] = messageId & 0xff;
    this.#len = o + 4;
    this.count++;
  }

  /** The encoded packets (the batch is empty afterwards and the buffer is the caller's to write). */
  take(): Buffer {
    const out = this.#buf.subarray(0, this.#len);
    // The socket may hold `out` until it is written: the next batch gets a buffer of its own (a spare one once written).
    const want = Math.max(SPARE_MIN, Math.min(4 * 1024 * 1024, this.#len * 2));
    const spare = this.#spare.pop();
    // A spare smaller than the last batch would only be grown (copied) again: a new one instead.
    this.#buf = spare !== undefined && spare.length >= want ? spare : Buffer.allocUnsafeSlow(want);
    this.#len = 0;
    this.count = 0;
    return out;
  }

  /**
   * Gives back a buffer `take` returned, once the socket is done with it (its write callback, without an
   * error): a later batch is encoded into it instead of a fresh allocation. Call at most once per take.
   */
  recycle(out: Buffer): void {
    if (this.#spare.length < SPARES && out.byteOffset === 0 && out.buffer.byteLength >= SPARE_MIN) this.#spare.push(Buffer.from(out.buffer, 0, out.buffer.byteLength));
  }

  #room(n: number): Buffer {
    if (this.#len + n > this.#buf.length) {
      const bigger = Buffer.allocUnsafeSlow(Math.max(this.#len + n, this.#buf.length * 2));
      this.#buf.copy(bigger, 0, 0, this.#len);
      this.#buf = bigger;
    }
    return this.#buf;
  }
}

/**
 * Spare buffers kept at most, and their least size. Batch buffers come from allocUnsafeSlow, never from
 * Buffer's shared pool: Node 24 pools allocations up to 32 KiB, and a pool slice given back as a spare would
 * let a later batch overwrite other buffers cut from the same pool.
 */
const SPARES = 2;
const SPARE_MIN = 16 * 1024;

function writeVarint(b: Buffer, o: number, n: number): number {
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n > 0) byte |= 0x80;
    b[o++] = byte;
  } while (n > 0);
  return o;
}
