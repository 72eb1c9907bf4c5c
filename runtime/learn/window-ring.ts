/**
 * The most recent training windows, at most `capacity` of them, in fixed
 * typed arrays allocated once. Each window carries a tag (the sequence
 * number of the reading that completed it); a full ring drops the lowest
 * tag. So what it holds is the `capacity` windows with the highest tags
 * whatever order they arrived in, which keeps fine-tunes deterministic when
 * devices interleave differently from run to run.
 */
export class WindowRing {
  readonly capacity: number;
  /** Steps per window. */
  readonly steps: number;
  readonly features: number;
  readonly targets: number;
  readonly #x: Float64Array;
  readonly #y: Float64Array;
  readonly #tags: Float64Array;
  #used = 0;
  /** Windows offered in all (kept or not). */
  offered = 0;

  constructor(capacity: number, steps: number, features: number, targets: number) {
    this.capacity = capacity;
    this.steps = steps;
    this.features = features;
    this.targets = targets;
    this.#x = new Float64Array(capacity * steps * features);
    this.#y = new Float64Array(capacity * steps * targets);
    this.#tags = new Float64Array(capacity);
  }

  get size(): number {
    return this.#used;
  }

  /** Bytes held by the ring's arrays. */
  get bytes(): number {
    return this.#x.byteLength + this.#y.byteLength + this.#tags.byteLength;
  }

  /** Offers a window (x: steps*F values, y: steps*T values); returns whether it was kept. */
  push(tag: number, x: Float64Array, y: Float64Array): boolean {
    this.offered++;
    let slot: number;
    if (this.#used < this.capacity) slot = this.#used++;
    else {
      slot = 0;
      for (let i = 1; i < this.capacity; i++) if (this.#tags[i]! < this.#tags[slot]!) slot = i;
      if (this.#tags[slot]! > tag) return false;
    }
    this.#tags[slot] = tag;
    this.#x.set(x, slot * this.steps * this.features);
    this.#y.set(y, slot * this.steps * this.targets);
    return true;
  }

  /** Copies of the windows in tag order (oldest first): what a fine-tune trains on. */
  snapshot(): { x: Float64Array; y: Float64Array; count: number } {
    const n = this.#used;
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => this.#tags[a]! - this.#tags[b]! || a - b);
    const xw = this.steps * this.features;
    const yw = this.steps * this.targets;
    const x = new Float64Array(n * xw);
    const y = new Float64Array(n * yw);
    order.forEach((slot, i) => {
      x.set(this.#x.subarray(slot * xw, (slot + 1) * xw), i * xw);
      y.set(this.#y.subarray(slot * yw, (slot + 1) * yw), i * yw);
    });
    return { x, y, count: n };
  }

  clear(): void {
    this.#used = 0;
  }
}
