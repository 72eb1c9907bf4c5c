/**
 * Readings admitted and not yet finished (stepped and their result handed to
 * the broker). Bounded: when full, `admit` says no and the caller either
 * waits (`whenSpace`: the MQTT client stops reading its socket, so TCP and the
 * broker's flow control push back on publishers) or drops the reading,
 * counted per device.
 */
export class IngestQueue {
  readonly limit: number;
  #inFlight = 0;
  #waiters: (() => void)[] = [];
  readonly dropsByDevice = new Map<string, number>();
  dropped = 0;
  /** Highest in-flight count seen: a test's evidence that the bound held. */
  highWater = 0;

  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`queue limit must be a positive integer, got ${limit}`);
    this.limit = limit;
  }

  get size(): number {
    return this.#inFlight;
  }

  get full(): boolean {
    return this.#inFlight >= this.limit;
  }

  /** Takes a place, or returns false when full. */
  admit(): boolean {
    if (this.#inFlight >= this.limit) return false;
    this.#inFlight++;
    if (this.#inFlight > this.highWater) this.highWater = this.#inFlight;
    return true;
  }

  /** Gives a place back and wakes one waiter. */
  release(): void {
    this.#inFlight--;
    const w = this.#waiters.shift();
    if (w) w();
  }

  /** Calls `fn` once a place is free (at once if one is). */
  whenSpace(fn: () => void): void {
    if (this.#inFlight < this.limit) fn();
    else this.#waiters.push(fn);
  }

  recordDrop(device: string): void {
    this.dropped++;
    this.dropsByDevice.set(device, (this.dropsByDevice.get(device) ?? 0) + 1);
  }
}
