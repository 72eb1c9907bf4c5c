/**
 * The subset of the protobuf wire format that ONNX files use. ONNX Runtime's
 * JavaScript API exposes neither `metadata_props` nor initializers, and a
 * full protobuf dependency for a dozen fields is not worth its weight on a
 * Raspberry Pi, so the few messages we need are read and written by hand.
 */

export const enum WireType {
  Varint = 0,
  Fixed64 = 1,
  LengthDelimited = 2,
  Fixed32 = 5,
}

export class ProtobufError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtobufError';
  }
}

export interface Field {
  readonly number: number;
  readonly wireType: WireType;
  /** For varints: the value (exact up to 2^53). */
  readonly varint: number;
  /** For length-delimited and fixed fields: the payload, a view into the buffer. */
  readonly bytes: Uint8Array;
}

const textDecoder = new TextDecoder('utf-8', { fatal: false });
const textEncoder = new TextEncoder();

/** Reads one message's fields in order; nested messages are read by a new reader over `field.bytes`. */
export class ProtoReader {
  readonly #buf: Uint8Array;
  #pos = 0;

  constructor(buf: Uint8Array) {
    this.#buf = buf;
  }

  *fields(): Generator<Field> {
    while (this.#pos < this.#buf.length) {
      const key = this.#readVarint();
      const number = Math.floor(key / 8);
      const wireType = (key % 8) as WireType;
      if (number === 0) throw new ProtobufError(`field number 0 at byte ${this.#pos}`);
      switch (wireType) {
        case WireType.Varint:
          yield { number, wireType, varint: this.#readVarint(), bytes: EMPTY };
          break;
        case WireType.Fixed64:
          yield { number, wireType, varint: 0, bytes: this.#take(8) };
          break;
        case WireType.Fixed32:
          yield { number, wireType, varint: 0, bytes: this.#take(4) };
          break;
        case WireType.LengthDelimited: {
          const len = this.#readVarint();
          yield { number, wireType, varint: 0, bytes: this.#take(len) };
          break;
        }
        default:
          throw new ProtobufError(`unsupported wire type ${wireType as number} at byte ${this.#pos}`);
      }
    }
  }

  #take(len: number): Uint8Array {
    if (this.#pos + len > this.#buf.length) {
      throw new ProtobufError(`truncated: need ${len} bytes at byte ${this.#pos}, have ${this.#buf.length - this.#pos}`);
    }
    const out = this.#buf.subarray(this.#pos, this.#pos + len);
    this.#pos += len;
    return out;
  }

  #readVarint(): number {
    let result = 0;
    let scale = 1;
    const start = this.#pos;
    for (let i = 0; i < 10; i++) {
      if (this.#pos >= this.#buf.length) throw new ProtobufError(`truncated varint at byte ${this.#pos}`);
      const b = this.#buf[this.#pos++]!;
      result += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) return i < 7 ? result : this.#exactVarint(start);
      scale *= 128;
    }
    throw new ProtobufError(`varint longer than 10 bytes at byte ${this.#pos}`);
  }

  // Long varints are negative int64 values (-1 is ten bytes); doubles cannot hold them, BigInt can.
  #exactVarint(start: number): number {
    let v = 0n;
    for (let i = 0, p = start; p < this.#pos; i++, p++) v |= BigInt(this.#buf[p]! & 0x7f) << BigInt(7 * i);
    return Number(BigInt.asIntN(64, v));
  }
}

const EMPTY = new Uint8Array(0);

export function decodeString(bytes: Uint8Array): string {
  return textDecoder.decode(bytes);
}


/** Decodes a packed repeated varint field (or a single unpacked one). */
export function decodePackedVarints(field: Field): number[] {
  if (field.wireType === WireType.Varint) return [field.varint];
  const out: number[] = [];
  const r = new ProtoReader(wrapAsField(field.bytes));
  for (const f of r.fields()) out.push(f.varint);
  return out;
}

// A packed varint payload has no keys; prefix each value with a fake key so ProtoReader can walk it.
function wrapAsField(bytes: Uint8Array): Uint8Array {
  const w = new ProtoWriter();
  let pos = 0;
  while (pos < bytes.length) {
    const start = pos;
    while (pos < bytes.length && (bytes[pos]! & 0x80) !== 0) pos++;
    pos++;
    if (pos > bytes.length) throw new ProtobufError('truncated packed varint');
    w.rawKey(1, WireType.Varint);
    w.rawBytes(bytes.subarray(start, pos));
  }
  return w.finish();
}

/** Builds one message. Nested messages are written by a separate writer and added with `message()`. */
export class ProtoWriter {
  #chunks: Uint8Array[] = [];
  #length = 0;

  rawKey(number: number, wireType: WireType): this {
    return this.#varint(number * 8 + wireType);
  }

  rawBytes(bytes: Uint8Array): this {
    this.#chunks.push(bytes);
    this.#length += bytes.length;
    return this;
  }

  int(number: number, value: number): this {
    return this.rawKey(number, WireType.Varint).#varint(value);
  }

  float(number: number, value: number): this {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    return this.rawKey(number, WireType.Fixed32).rawBytes(b);
  }

  bytes(number: number, value: Uint8Array): this {
    return this.rawKey(number, WireType.LengthDelimited).#varint(value.length).rawBytes(value);
  }

  string(number: number, value: string): this {
    return this.bytes(number, textEncoder.encode(value));
  }

  message(number: number, inner: ProtoWriter): this {
    return this.bytes(number, inner.finish());
  }

  packedInts(number: number, values: readonly number[]): this {
    const inner = new ProtoWriter();
    for (const v of values) inner.#varint(v);
    return this.bytes(number, inner.finish());
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.#length);
    let pos = 0;
    for (const c of this.#chunks) {
      out.set(c, pos);
      pos += c.length;
    }
    return out;
  }

  #varint(value: number): this {
    if (value < 0) return this.rawBytes(negativeVarint(value));
    const bytes: number[] = [];
    let v = value;
    while (v >= 128) {
      bytes.push((v % 128) | 0x80);
      v = Math.floor(v / 128);
    }
    bytes.push(v);
    return this.rawBytes(Uint8Array.from(bytes));
  }
}

function negativeVarint(value: number): Uint8Array {
  let v = BigInt.asUintN(64, BigInt(value));
  const bytes: number[] = [];
  while (v >= 128n) {
    bytes.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  bytes.push(Number(v));
  return Uint8Array.from(bytes);
}
