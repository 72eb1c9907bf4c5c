/** Devices counted one by one by the drop policy; the rest share one count. */
export const DROP_KEYS_MAX = 10_000;
/** The key of drops of devices beyond DROP_KEYS_MAX (not a valid device id: empty names are refused). */
export const OTHER_DEVICES = '';

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

  /** Counts a dropped reading; per device for the first DROP_KEYS_MAX devices, the others under OTHER_DEVICES (bounded memory). */
  recordDrop(device: string): void {
    this.dropped++;
    const n = this.dropsByDevice.get(device);
    if (n !== undefined) this.dropsByDevice.set(device, n + 1);
    else if (this.dropsByDevice.size < DROP_KEYS_MAX) this.dropsByDevice.set(device, 1);
    else this.dropsByDevice.set(OTHER_DEVICES, (this.dropsByDevice.get(OTHER_DEVICES) ?? 0) + 1);
  }
}
