import type { DeviceStateStore, StateLayout, StoreOptions } from './store';

const NONE = -1;

/**
 * The in-memory store: contiguous typed arrays indexed by slot, a Map from
 * device id to slot, and an intrusive doubly linked LRU list in Int32Arrays,
 * so acquiring a known device allocates nothing.
 */
export class MemoryStateStore implements DeviceStateStore {
  readonly layout: StateLayout;
  readonly maxDevices: number;
  h: Float32Array;
  c: Float32Array;
  aux: Float64Array;
  onEvict: ((device: string) => void) | undefined;
  #capacity: number;
  #ids: (string | undefined)[];
  #slots = new Map<string, number>();
  #lastUsed: Float64Array;
  #prev: Int32Array;
  #next: Int32Array;
  #head = NONE; // least recently used
  #tail = NONE; // most recently used
  #free: number[] = [];
  readonly #cellWidth: number;

  constructor(layout: StateLayout, opts: StoreOptions = {}) {
    const max = opts.maxDevices ?? 100_000;
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`maxDevices must be a positive integer, got ${String(max)}`);
    if (!Number.isInteger(layout.stateWidth) || layout.stateWidth < 1) throw new RangeError(`layout.stateWidth must be a positive integer, got ${String(layout.stateWidth)}`);
    if (!Number.isInteger(layout.auxWidth) || layout.auxWidth < 0) throw new RangeError(`layout.auxWidth must be a non-negative integer, got ${String(layout.auxWidth)}`);
    const cw = layout.cellWidth ?? layout.stateWidth;
    if (!Number.isInteger(cw) || cw < 0) throw new RangeError(`layout.cellWidth must be a non-negative integer, got ${String(layout.cellWidth)}`);
    this.#cellWidth = cw;
    this.layout = layout;
    this.maxDevices = max;
    this.#capacity = Math.min(max, Math.max(1, opts.initialCapacity ?? 1024));
    this.h = new Float32Array(this.#capacity * layout.stateWidth);
    this.c = new Float32Array(this.#capacity * cw);
    this.aux = new Float64Array(this.#capacity * layout.auxWidth);
    this.#ids = new Array<string | undefined>(this.#capacity).fill(undefined);
    this.#lastUsed = new Float64Array(this.#capacity);
    this.#prev = new Int32Array(this.#capacity).fill(NONE);
    this.#next = new Int32Array(this.#capacity).fill(NONE);
    for (let s = this.#capacity - 1; s >= 0; s--) this.#free.push(s);
  }

  get size(): number {
    return this.#slots.size;
  }

  acquire(device: string, now: number): number {
    const known = this.#slots.get(device);
    if (known !== undefined) {
      this.#touch(known, now);
      return known;
    }
    let evicted: string | undefined;
    if (this.#free.length === 0) {
      if (this.#capacity < this.maxDevices) this.#grow();
      else {
        evicted = this.#ids[this.#head]!;
        this.delete(evicted);
      }
    }
    const slot = this.#free.pop()!;
    this.#ids[slot] = device;
    this.#slots.set(device, slot);
    this.#zero(slot);
    this.#append(slot);
    this.#lastUsed[slot] = now;
    if (evicted !== undefined) this.onEvict?.(evicted);
    return slot;
  }

  acquireAt(device: string, slot: number, now: number): number {
    // Ids are compared as strings; the same string object (the engine passes its queue's) compares by pointer.
    if (slot >= 0 && slot < this.#capacity && this.#ids[slot] === device) {
      this.#touch(slot, now);
      return slot;
    }
    return this.acquire(device, now);
  }

  slotOf(device: string): number {
    return this.#slots.get(device) ?? NONE;
  }

  reset(device: string): boolean {
    const slot = this.#slots.get(device);
    if (slot === undefined) return false;
    this.#zero(slot);
    return true;
  }

  resetAll(): void {
    for (const slot of this.#slots.values()) this.#zero(slot);
  }

  delete(device: string): boolean {
    const slot = this.#slots.get(device);
    if (slot === undefined) return false;
    this.#unlink(slot);
    this.#slots.delete(device);
    this.#ids[slot] = undefined;
    this.#zero(slot);
    this.#free.push(slot);
    return true;
  }

  evictIdle(now: number, ttlMs: number): string[] {
    const out: string[] = [];
    while (this.#head !== NONE && now - this.#lastUsed[this.#head]! > ttlMs) {
      const id = this.#ids[this.#head]!;
      out.push(id);
      this.delete(id);
    }
    return out;
  }

  devices(): string[] {
    const out: string[] = [];
    for (let s = this.#head; s !== NONE; s = this.#next[s]!) out.push(this.#ids[s]!);
    return out;
  }

  lastUsed(device: string): number | undefined {
    const slot = this.#slots.get(device);
    return slot === undefined ? undefined : this.#lastUsed[slot];
  }

  bytesPerDevice(): number {
    // Typed arrays per slot, plus the Map entry and the id string (about 80 bytes for a short id in V8).
    return (this.layout.stateWidth + this.#cellWidth) * 4 + this.layout.auxWidth * 8 + 8 + 4 * 2 + 80;
  }

  #touch(slot: number, now: number): void {
    this.#lastUsed[slot] = now;
    if (this.#tail === slot) return;
    this.#unlink(slot);
    this.#append(slot);
  }

  #append(slot: number): void {
    this.#prev[slot] = this.#tail;
    this.#next[slot] = NONE;
    if (this.#tail !== NONE) this.#next[this.#tail] = slot;
    else this.#head = slot;
    this.#tail = slot;
  }

  #unlink(slot: number): void {
    const p = this.#prev[slot]!;
    const n = this.#next[slot]!;
    if (p !== NONE) this.#next[p] = n;
    else this.#head = n;
    if (n !== NONE) this.#prev[n] = p;
    else this.#tail = p;
    this.#prev[slot] = NONE;
    this.#next[slot] = NONE;
  }

  #zero(slot: number): void {
    const w = this.layout.stateWidth;
    this.h.fill(0, slot * w, (slot + 1) * w);
    const cw = this.#cellWidth;
    this.c.fill(0, slot * cw, (slot + 1) * cw);
    const a = this.layout.auxWidth;
    this.aux.fill(0, slot * a, (slot + 1) * a);
  }

  #grow(): void {
    const old = this.#capacity;
    const cap = Math.min(this.maxDevices, old * 2);
    const w = this.layout.stateWidth;
    const grow32 = (a: Float32Array, n: number): Float32Array => {
      const b = new Float32Array(cap * n);
      b.set(a);
      return b;
    };
    this.h = grow32(this.h, w);
    this.c = grow32(this.c, this.#cellWidth);
    const aux = new Float64Array(cap * this.layout.auxWidth);
    aux.set(this.aux);
    this.aux = aux;
    const lu = new Float64Array(cap);
    lu.set(this.#lastUsed);
    this.#lastUsed = lu;
    const prev = new Int32Array(cap).fill(NONE);
    prev.set(this.#prev);
    this.#prev = prev;
    const next = new Int32Array(cap).fill(NONE);
    next.set(this.#next);
    this.#next = next;
    for (let s = cap - 1; s >= old; s--) this.#free.push(s);
    this.#ids.length = cap;
    this.#capacity = cap;
  }
}
