import type { BatchResults } from '../engine/batch-results';
import type { Result } from '../engine/sample';
import { EdgeLstmError } from '../errors';
import { DeviceTrack, bytesPerDevice, type DeviceRow } from './device-track';
import { TrackSlab } from './track-slab';

/** Options of the live view; each is also a `run` option (--view, --view-devices, --view-points). */
export interface FleetViewOptions {
  /** Points kept per device (the chart's length). Default 240. */
  points?: number;
  /** Devices tracked at most; past it the least recently updated one is dropped. Default 10000. */
  devices?: number;
}

export const VIEW_DEFAULTS = { points: 240, devices: 10_000 } as const;

/** What the view asks of the running service. */
export interface ViewSource {
  /** Target names and their positions in a result's `values`. */
  shape(): { targets: readonly string[]; targetIndex: readonly number[] };
  /** Model id, backend and the engine's device count. */
  info(): { model: string; backend: string; devices: number };
}

/** The fleet at a glance. */
export interface FleetSummary {
  model: string;
  backend: string;
  targets: readonly string[];
  /** Devices the engine holds state for. */
  devices: number;
  /** Devices the view tracks (at most `maxDevices`). */
  tracked: number;
  maxDevices: number;
  points: number;
  bytesPerDevice: number;
  /** Results recorded, rejected readings, open episodes (over the tracked devices). */
  results: number;
  errors: number;
  open: number;
  /** Rows shown: open episodes first, then by likelihood; `matched` rows matched the filter. */
  rows: DeviceRow[];
  matched: number;
}

/**
 * The live view's memory: a DeviceTrack per device, at most `devices` of
 * them (bytesPerDevice each), fed with every result the service publishes.
 * The tracks' points live in TrackSlabs, one per result shape (a model with
 * other targets starts its devices over in a slab of its own). Recording is
 * a Map lookup and writes into the device's slot (its header and one point):
 * the view being open or not costs the hot path the same. Eviction is
 * second-chance (the CLOCK algorithm over the Map's insertion order),
 * amortized O(1).
 */
export class FleetView {
  readonly points: number;
  readonly maxDevices: number;
  readonly #source: ViewSource;
  readonly #tracks = new Map<string, DeviceTrack>();
  /** The slabs by shape ("targets,features,forecast"), and the one the last result went to. */
  readonly #slabs = new Map<string, TrackSlab>();
  #slab: TrackSlab | undefined;
  results = 0;
  errors = 0;

  constructor(source: ViewSource, options: FleetViewOptions = {}) {
    this.points = checkInt('view-points', options.points ?? VIEW_DEFAULTS.points, 2, 100_000);
    this.maxDevices = checkInt('view-devices', options.devices ?? VIEW_DEFAULTS.devices, 1, 10_000_000);
    this.#source = source;
  }

  get size(): number {
    return this.#tracks.size;
  }

  /** Slabs holding memory: one per result shape that tracked devices have (one but during a model swap). */
  get slabs(): number {
    return this.#slabs.size;
  }

  /** The model's target names (the charts' series). */
  get targets(): readonly string[] {
    return this.#source.shape().targets;
  }

  get(device: string): DeviceTrack | undefined {
    return this.#tracks.get(device);
  }

  /** Records one result. */
  record(r: Result): void {
    this.results++;
    let t = this.#tracks.get(r.device);
    const slab = this.#slabFor(r.expected?.length ?? t?.targets ?? this.#source.shape().targets.length, r.values.length, r.forecast.length);
    if (t === undefined || t.slab !== slab) t = this.#add(r.device, slab);
    t.record(r, this.#source.shape().targetIndex);
  }

  /** Records row `i` of an engine batch from its columns (the hot path: the service calls it for every result it publishes). */
  recordRow(b: BatchResults, i: number): void {
    this.results++;
    const device = b.device(i);
    let t = this.#tracks.get(device);
    const slab = this.#slabFor(b.T, b.sample(i).values.length, b.T * b.horizon);
    if (t === undefined || t.slab !== slab) t = this.#add(device, slab);
    t.recordRow(b, i, this.#source.shape().targetIndex);
  }

  /** The slab of results with this shape (the last one used, but after a model swap). */
  #slabFor(targets: number, features: number, forecast: number): TrackSlab {
    const last = this.#slab;
    if (last !== undefined && last.fits(targets, features, forecast)) return last;
    const key = `${targets},${features},${forecast}`;
    let slab = this.#slabs.get(key);
    if (slab === undefined) {
      slab = new TrackSlab(this.points, targets, features, forecast);
      this.#slabs.set(key, slab);
    }
    if (last !== undefined && last.live === 0) this.#slabs.delete(`${last.targets},${last.features},${last.forecast}`);
    this.#slab = slab;
    return slab;
  }

  /** Counts a rejected reading (on its device's row when the device is tracked). */
  recordError(device: string | null, code: string): void {
    this.errors++;
    const t = device === null ? undefined : this.#tracks.get(device);
    if (t) {
      t.errors++;
      t.lastError = code;
    }
  }

  /** Drops a device (the engine forgot it). */
  forget(device: string): void {
    const t = this.#tracks.get(device);
    if (t !== undefined) this.#drop(t);
  }

  #add(device: string, slab: TrackSlab): DeviceTrack {
    const old = this.#tracks.get(device);
    if (old !== undefined) this.#drop(old);
    while (this.#tracks.size >= this.maxDevices) this.#evictOne();
    const t = new DeviceTrack(device, slab);
    this.#tracks.set(device, t);
    return t;
  }

  /** The device leaves the view; its slot is free, and a slab no device uses any more goes (the one in use stays). */
  #drop(t: DeviceTrack): void {
    this.#tracks.delete(t.device);
    t.release();
    const slab = t.slab;
    if (slab.live === 0 && slab !== this.#slab) this.#slabs.delete(`${slab.targets},${slab.features},${slab.forecast}`);
  }

  #evictOne(): void {
    for (const [d, t] of this.#tracks) {
      if (!t.touched) return this.#drop(t);
      this.#tracks.delete(d);
      t.touched = false;
      this.#tracks.set(d, t);
    }
  }

  /** The summary with up to `limit` rows whose device id contains `filter`. */
  summary(filter = '', limit = 100): FleetSummary {
    const info = this.#source.info();
    const targets = this.#source.shape().targets;
    let open = 0;
    let matched = 0;
    // The `limit` most interesting, kept sorted while scanning: a tick with a page open costs O(devices), not a sort of the fleet.
    const top: DeviceTrack[] = [];
    for (const t of this.#tracks.values()) {
      if (t.open !== null) open++;
      if (filter !== '' && !t.device.includes(filter)) continue;
      matched++;
      if (top.length === limit && (limit === 0 || byInterest(t, top[limit - 1]!) >= 0)) continue;
      let lo = 0;
      let hi = top.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (byInterest(top[mid]!, t) <= 0) lo = mid + 1;
        else hi = mid;
      }
      top.splice(lo, 0, t);
      if (top.length > limit) top.pop();
    }
    return {
      model: info.model,
      backend: info.backend,
      targets,
      devices: info.devices,
      tracked: this.#tracks.size,
      maxDevices: this.maxDevices,
      points: this.points,
      bytesPerDevice: this.#slab !== undefined ? bytesPerDevice(this.points, this.#slab.targets, this.#slab.features, this.#slab.forecast) : bytesPerDevice(this.points, targets.length),
      results: this.results,
      errors: this.errors,
      open,
      rows: top.map((t) => t.row()),
      matched,
    };
  }
}

/** Open episodes first (oldest first), then the highest last likelihood, then by name. */
function byInterest(a: DeviceTrack, b: DeviceTrack): number {
  if ((a.open === null) !== (b.open === null)) return a.open === null ? 1 : -1;
  if (a.open !== null && b.open !== null && a.open.start !== b.open.start) return a.open.start - b.open.start;
  const la = a.lastLikelihood;
  const lb = b.lastLikelihood;
  const na = Number.isNaN(la) ? -1 : la;
  const nb = Number.isNaN(lb) ? -1 : lb;
  if (na !== nb) return nb - na;
  return a.device < b.device ? -1 : a.device > b.device ? 1 : 0;
}

function checkInt(field: string, v: number, min: number, max: number): number {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new EdgeLstmError('E_CONFIG', `option --${field}: expected an integer from ${min} to ${max}, found ${v}`, { field, expected: `an integer from ${min} to ${max}`, found: String(v) });
  }
  return v;
}
