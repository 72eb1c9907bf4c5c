import type { DeviceStateStore, StateLayout } from '../state/store';

/**
 * One partition's devices inside the instance's shared store: every owned
 * partition steps through one engine (one ONNX call per batch over all of
 * them), and this view is what a partition snapshots and restores. It lists,
 * encodes and frees only the devices the partition has taken or restored;
 * rows are the shared store's own (no copy).
 */
export class PartitionStore implements DeviceStateStore {
  readonly #shared: DeviceStateStore;
  readonly #mine = new Set<string>();
  onEvict: ((device: string) => void) | undefined = undefined;

  constructor(shared: DeviceStateStore) {
    this.#shared = shared;
  }

  /** Counts a device as this partition's (it is stepped by the shared engine). */
  track(device: string): void {
    this.#mine.add(device);
  }

  get layout(): StateLayout {
    return this.#shared.layout;
  }

  get maxDevices(): number {
    return this.#shared.maxDevices;
  }

  /** The partition's devices still holding state (the shared store may have evicted some). */
  get size(): number {
    let n = 0;
    for (const d of this.#mine) if (this.#shared.slotOf(d) >= 0) n++;
    return n;
  }

  get h(): Float32Array {
    return this.#shared.h;
  }

  get c(): Float32Array {
    return this.#shared.c;
  }

  get aux(): Float64Array {
    return this.#shared.aux;
  }

  acquire(device: string, now: number): number {
    this.#mine.add(device);
    return this.#shared.acquire(device, now);
  }

  slotOf(device: string): number {
    return this.#mine.has(device) ? this.#shared.slotOf(device) : -1;
  }

  reset(device: string): boolean {
    return this.#mine.has(device) && this.#shared.reset(device);
  }

  /** Frees every device of the partition in the shared store (after it is handed over or given up). */
  resetAll(): void {
    for (const d of this.#mine) this.#shared.delete(d);
    this.#mine.clear();
  }

  delete(device: string): boolean {
    if (!this.#mine.delete(device)) return false;
    return this.#shared.delete(device);
  }

  /** Idle expiry is the shared engine's (its idle TTL runs over the whole store). */
  evictIdle(): string[] {
    return [];
  }

  /** The partition's devices, least recently used first (by their last use: not a walk of the whole shared store per partition). */
  devices(): string[] {
    const out: { d: string; t: number }[] = [];
    for (const d of this.#mine) {
      const t = this.#shared.lastUsed(d);
      if (t !== undefined) out.push({ d, t });
    }
    return out.sort((a, b) => a.t - b.t).map((x) => x.d);
  }

  lastUsed(device: string): number | undefined {
    return this.#mine.has(device) ? this.#shared.lastUsed(device) : undefined;
  }

  bytesPerDevice(): number {
    return this.#shared.bytesPerDevice();
  }
}
