/**
 * Bytes of one point in a device's ring: timestamp and likelihood (2 × 8),
 * then per target the value, the forecast and the band half-width (3 × 4),
 * the score and the flags (2 × 4), rounded up to 8. A point's fields sit
 * together, so recording one touches one or two cache lines, not one per
 * field.
 */
export function pointBytes(targets: number): number {
  return Math.ceil((16 + 4 * (3 * targets + 2)) / 8) * 8;
}

/**
 * Doubles of a device's header: its last likelihood, per target the mean
 * squared error and the readings it has seen (the band's error scale), its
 * last reading's values (`features`) and its last forecast (`forecast`).
 */
export function headerDoubles(targets: number, features: number, forecast: number): number {
  return 1 + 2 * targets + features + forecast;
}

/** A chunk holds the rings of at most this many devices (a power of two)... */
const CHUNK_DEVICES = 256;
/** ...and of fewer when their rings are long: about this many bytes at most (one device's ring at least). */
const CHUNK_BYTES = 4 << 20;

/**
 * The memory of every device track with one shape (targets, features,
 * forecast length), in chunks of devices: per chunk one buffer holding the
 * chunk's headers side by side, then its rings. A device is a slot number.
 *
 * Why: the view records every result of a fleet whose devices come in no
 * order the CPU can predict, so what a result costs is the cache lines it
 * misses. With a buffer, two typed-array views and arrays for the latest
 * values and forecast per device, recording one missed a dozen lines; here
 * it is the device's header (the headers are dense: 10,000 devices' fit the
 * CPU's caches) and the point written into its ring.
 */
export class TrackSlab {
  readonly points: number;
  readonly targets: number;
  readonly features: number;
  readonly forecast: number;
  /** Doubles per header and per point. */
  readonly hdr: number;
  readonly stride: number;
  /** Devices per chunk = 1 << shift. */
  readonly #shift: number;
  /** Offset, in doubles, of the rings in a chunk. */
  readonly #rings: number;
  /** Each chunk's buffer as doubles and as floats (the points' float32 fields). */
  readonly f64: Float64Array[] = [];
  readonly f32: Float32Array[] = [];
  readonly #free: number[] = [];
  #slots = 0;
  /** Slots in use. */
  live = 0;

  constructor(points: number, targets: number, features: number, forecast: number) {
    this.points = points;
    this.targets = targets;
    this.features = features;
    this.forecast = forecast;
    this.hdr = headerDoubles(targets, features, forecast);
    this.stride = pointBytes(targets) / 8;
    const ringBytes = points * this.stride * 8;
    let shift = 0;
    while (1 << shift < CHUNK_DEVICES && (2 << shift) * ringBytes <= CHUNK_BYTES) shift++;
    this.#shift = shift;
    this.#rings = (1 << shift) * this.hdr;
  }

  fits(targets: number, features: number, forecast: number): boolean {
    return this.targets === targets && this.features === features && this.forecast === forecast;
  }

  /** Bytes the slab holds per device (its header and ring; the chunk's unused slots aside). */
  get bytesPerDevice(): number {
    return (this.hdr + this.points * this.stride) * 8;
  }

  /** A slot for a new device, its header reset (no likelihood, no error scale yet). */
  alloc(): number {
    const slot = this.#free.pop() ?? this.#slots++;
    const c = slot >>> this.#shift;
    while (this.f64.length <= c) {
      const buf = new ArrayBuffer((this.#rings + (this.points << this.#shift) * this.stride) * 8);
      this.f64.push(new Float64Array(buf));
      this.f32.push(new Float32Array(buf));
    }
    const h = this.header(slot);
    this.f64[c]!.fill(0, h, h + this.hdr);
    this.f64[c]![h] = NaN;
    this.live++;
    return slot;
  }

  /** The slot is free again (its device was dropped). */
  release(slot: number): void {
    this.#free.push(slot);
    this.live--;
  }

  chunk(slot: number): number {
    return slot >>> this.#shift;
  }

  /** Offset in doubles, in its chunk, of the slot's header. */
  header(slot: number): number {
    return (slot & ((1 << this.#shift) - 1)) * this.hdr;
  }

  /** Offset in doubles, in its chunk, of the slot's point with sequence number k. */
  point(slot: number, k: number): number {
    return this.#rings + (((k % this.points) << this.#shift) + (slot & ((1 << this.#shift) - 1))) * this.stride;
  }
}
