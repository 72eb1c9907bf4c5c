/**
 * Where every device's memory lives. A device owns one slot; its LSTM state
 * sits at `slot * stateWidth` in `h` and `slot * cellWidth` in `c` (layout
 * [L, H]; a GRU has no `c`), and the
 * engine's per-device bookkeeping (forecast, normalization and scoring
 * statistics) at `slot * auxWidth` in `aux`, opaque to the store. The arrays
 * are exposed so the hot path reads and writes them in place, with no
 * allocation per sample.
 */
export interface StateLayout {
  /** Floats of h per device: L * H. */
  readonly stateWidth: number;
  /** Floats of c per device: L * H for an LSTM, 0 for a GRU (no cell state). Default: stateWidth. */
  readonly cellWidth?: number;
  /** Float64 values of engine bookkeeping per device. */
  readonly auxWidth: number;
}

export interface DeviceStateStore {
  readonly layout: StateLayout;
  readonly maxDevices: number;
  /** Devices holding a slot now. */
  readonly size: number;
  readonly h: Float32Array;
  readonly c: Float32Array;
  readonly aux: Float64Array;
  /**
   * The device's slot, made fresh (zeros) when it has none; allocates nothing
   * for a known device. When full, the least recently used device is evicted
   * (and `onEvict` told). Counts as a use. Views of the arrays taken before
   * may be stale after this call (the store may grow).
   */
  acquire(device: string, now: number): number;
  /**
   * acquire with a hint: `slot` is where the caller last found `device`. When
   * the device still holds it, it is a use of that slot with no index lookup;
   * otherwise the same as acquire. Optional; callers fall back to acquire.
   */
  acquireAt?(device: string, slot: number, now: number): number;
  /** Called with the id of a device evicted by `acquire` to make room (not by delete or evictIdle). */
  onEvict: ((device: string) => void) | undefined;
  /** The slot, or -1; not a use. */
  slotOf(device: string): number;
  /** Zeros a device's state and bookkeeping; false when unknown. */
  reset(device: string): boolean;
  resetAll(): void;
  /** Frees a device's slot; false when unknown. */
  delete(device: string): boolean;
  /** Evicts devices not used since `now - ttlMs`; returns their ids. */
  evictIdle(now: number, ttlMs: number): string[];
  /** Device ids, least recently used first. */
  devices(): string[];
  /** Last use, as given to acquire. */
  lastUsed(device: string): number | undefined;
  /** Bytes the store holds per device slot, everything included (arrays, index, id). */
  bytesPerDevice(): number;
}

/** Options for a store. */
export interface StoreOptions {
  /** Upper bound on devices; the least recently used is evicted beyond it. Default 100000. */
  maxDevices?: number;
  /** Slots allocated up front; the store doubles up to maxDevices. Default min(1024, maxDevices). */
  initialCapacity?: number;
}
