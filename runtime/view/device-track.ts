import type { BatchResults } from '../engine/batch-results';
import type { Episode, Result } from '../engine/sample';
import { headerDoubles, pointBytes, type TrackSlab } from './track-slab';

/** Band half-width in error scales: forecast ± BAND_K × the device's recent RMS error. */
export const BAND_K = 3;
/** Readings the error scale averages over (exponentially weighted; a plain mean until this many). */
const SCALE_SPAN = 50;
/** Closed episodes kept per device (the open one besides): older ones are dropped. */
export const EPISODES_KEPT = 16;

const FLAG_ANOMALY = 1;
const FLAG_WARMUP = 2;

export { pointBytes } from './track-slab';

/** Heap bytes of a device's objects: the track and its Map entry (the id is the engine's string too). */
const OBJECT_BYTES = 200;

/**
 * Bytes of one device: its ring (`points` × pointBytes), its header in the
 * slab (headerDoubles × 8: the last likelihood, the error scale per target,
 * the last values and forecast) and OBJECT_BYTES. Measured: 10,057 bytes per
 * device at 240 points, one target, one feature (10,000 devices, heap and
 * array buffers after GC, the last chunk of 256 devices partly empty); this
 * gives 9,840.
 */
export function bytesPerDevice(points: number, targets: number, features = targets, forecast = targets): number {
  return points * pointBytes(targets) + 8 * headerDoubles(targets, features, forecast) + OBJECT_BYTES;
}

/** An anomaly episode as the view keeps it: closed (`end` set) or open. */
export interface EpisodeMark {
  start: number;
  end: number | null;
  peak: number;
  features: string[];
}

/** The columns of a device's points, oldest first (JSON-ready: NaN becomes null). */
export interface TrackPoints {
  /** Points recorded over the device's life; `from` is the sequence number of the first one here. */
  from: number;
  to: number;
  ts: number[];
  /** Per target: the reading, the forecast made one step before, the band half-width. */
  value: (number | null)[][];
  expected: (number | null)[][];
  band: (number | null)[][];
  score: (number | null)[];
  likelihood: (number | null)[];
  anomaly: boolean[];
  warmup: boolean[];
}

/** A device's row in the fleet table. */
export interface DeviceRow {
  device: string;
  ts: number;
  values: number[];
  score: number | null;
  likelihood: number | null;
  anomaly: boolean;
  warmup: boolean;
  /** Start of the open episode, or null. */
  open: number | null;
  episodes: number;
  errors: number;
  lastError: string | null;
}

const NO_VALUES: readonly number[] = [];

/** A stored float for JSON: NaN as null, float32 noise rounded off (7 significant digits). */
const j = (x: number): number | null => (Number.isNaN(x) ? null : Number(x.toPrecision(7)));

const NO_POINTS = (n: number): TrackPoints => ({ from: n, to: n, ts: [], value: [], expected: [], band: [], score: [], likelihood: [], anomaly: [], warmup: [] });

/**
 * One device's recent history: a slot of a TrackSlab (its header and a ring
 * of `points`), so recording a result allocates nothing once the slot exists,
 * whatever the fleet's rate, and touches the few cache lines of the slot
 * (track-slab.ts says why that matters). The band is the forecast ± BAND_K ×
 * the RMS of the device's recent forecast errors, taken before the reading's
 * own error joins it (so a jump lands outside its band). A track the fleet
 * dropped keeps its episodes and counts but no points (its slot is another
 * device's).
 */
export class DeviceTrack {
  readonly device: string;
  readonly slab: TrackSlab;
  /** The slot in the slab; -1 once the track is dropped. */
  slot: number;
  /** Points recorded so far (the ring holds the last `points` of them). */
  n = 0;
  /** Set on every record; the fleet's eviction clears it (second chance). */
  touched = true;
  errors = 0;
  lastError: string | null = null;
  readonly episodes: EpisodeMark[] = [];
  open: EpisodeMark | null = null;

  constructor(device: string, slab: TrackSlab) {
    this.device = device;
    this.slab = slab;
    this.slot = slab.alloc();
  }

  get points(): number {
    return this.slab.points;
  }

  get targets(): number {
    return this.slab.targets;
  }

  /** Gives the slot back (the fleet dropped the device). */
  release(): void {
    if (this.slot < 0) return;
    this.slab.release(this.slot);
    this.slot = -1;
  }

  /** Records a result; `targetIndex[t]` is the position of target t in `r.values`. */
  record(r: Result, targetIndex: readonly number[]): void {
    const exp = r.expected;
    const err = r.error;
    this.#put(r.ts, r.values, exp ?? NO_VALUES, exp === null ? -1 : 0, err ?? NO_VALUES, err === null ? -1 : 0, r.score ?? NaN, r.likelihood ?? NaN, r.anomaly, r.warmup, r.forecast, 0, targetIndex);
    if (r.episode !== null) this.#episode(r.ts, r.episode);
  }

  /**
   * Records row `i` of an engine batch straight from its columns (the service's path without a
   * Result object): the same point as `record(b.result(i))`, with no allocation
   * (an Episode only while one is open or closing).
   */
  recordRow(b: BatchResults, i: number, targetIndex: readonly number[]): void {
    const C = b.columns;
    const T = b.T;
    const has = C.hasForecast[i] === 1;
    const ts = b.ts(i);
    const anomaly = C.anomaly[i] === 1;
    this.#put(ts, b.sample(i).values, C.expected, has ? i * T : -1, C.error, has ? i * T : -1, C.score[i]!, C.likelihood[i]!, anomaly, C.learning[i] === 1, C.forecast, i * T * b.horizon, targetIndex);
    // An episode exists only around anomalous rows and the closing one.
    if (anomaly || C.event[i] !== 0) {
      const ep = b.episodeOf(i, b.anomalousOf(i));
      if (ep !== null) this.#episode(ts, ep);
    }
  }

  /**
   * One point; `expOff`/`errOff` -1: no forecast yet. The values (slab.features of them) and the
   * forecast (slab.forecast numbers from `fOff`) go into the header.
   */
  #put(ts: number, values: ArrayLike<number>, exp: ArrayLike<number>, expOff: number, err: ArrayLike<number>, errOff: number, score: number, likelihood: number, anomaly: boolean, warmup: boolean, forecast: ArrayLike<number>, fOff: number, targetIndex: readonly number[]): void {
    const slab = this.slab;
    const slot = this.slot;
    if (slot < 0) return;
    const T = slab.targets;
    const c = slab.chunk(slot);
    const f64 = slab.f64[c]!;
    const f32 = slab.f32[c]!;
    const h = slab.header(slot);
    const d = slab.point(slot, this.n);
    const o = 2 * d + 4; // value[t], expected[t] at o + T + t, band[t] at o + 2T + t, score, flags
    f64[d] = ts;
    f64[d + 1] = likelihood;
    f64[h] = likelihood;
    for (let t = 0; t < T; t++) {
      f32[o + t] = values[targetIndex[t] ?? t] ?? NaN;
      const seen = f64[h + 1 + T + t]!;
      const meanSq = f64[h + 1 + t]!;
      f32[o + 2 * T + t] = seen > 0 && expOff >= 0 ? BAND_K * Math.sqrt(meanSq) : NaN;
      f32[o + T + t] = expOff < 0 ? NaN : exp[expOff + t]!;
      const e = errOff < 0 ? NaN : err[errOff + t]!;
      if (Number.isFinite(e)) {
        const w = seen < SCALE_SPAN ? 1 / (seen + 1) : 2 / (SCALE_SPAN + 1);
        f64[h + 1 + t] = meanSq + w * (e * e - meanSq);
        f64[h + 1 + T + t] = seen + 1;
      }
    }
    f32[o + 3 * T] = score;
    f32[o + 3 * T + 1] = (anomaly ? FLAG_ANOMALY : 0) | (warmup ? FLAG_WARMUP : 0);
    const v = h + 1 + 2 * T;
    const F = slab.features;
    for (let k = 0; k < F; k++) f64[v + k] = values[k]!;
    const fc = v + F;
    const HT = slab.forecast;
    for (let k = 0; k < HT; k++) f64[fc + k] = forecast[fOff + k]!;
    this.n++;
    this.touched = true;
  }

  #episode(ts: number, ep: Episode): void {
    if (this.open === null || this.open.start !== ep.start) this.open = { start: ep.start, end: null, peak: ep.peak, features: ep.features };
    else {
      this.open.peak = ep.peak;
      this.open.features = ep.features;
    }
    if (ep.state === 'end') {
      this.open.end = ts;
      this.episodes.push(this.open);
      if (this.episodes.length > EPISODES_KEPT) this.episodes.shift();
      this.open = null;
    }
  }

  /** The last point's likelihood (NaN before any, or once dropped): the fleet table sorts by it without reading the ring. */
  get lastLikelihood(): number {
    return this.slot < 0 ? NaN : this.slab.f64[this.slab.chunk(this.slot)]![this.slab.header(this.slot)]!;
  }

  /** Timestamp of the last point, or NaN before any. */
  get lastTs(): number {
    return this.n === 0 || this.slot < 0 ? NaN : this.slab.f64[this.slab.chunk(this.slot)]![this.slab.point(this.slot, this.n - 1)]!;
  }

  /** The latest forecast (step-major, as in the result); [] before any. */
  get forecast(): number[] {
    return this.#header(1 + 2 * this.slab.targets + this.slab.features, this.slab.forecast);
  }

  /** The latest reading's values; [] before any. */
  get lastValues(): number[] {
    return this.#header(1 + 2 * this.slab.targets, this.slab.features);
  }

  #header(off: number, len: number): number[] {
    if (this.n === 0 || this.slot < 0) return [];
    const f64 = this.slab.f64[this.slab.chunk(this.slot)]!;
    const h = this.slab.header(this.slot) + off;
    return Array.from(f64.subarray(h, h + len));
  }

  /** The fleet table's row. */
  row(): DeviceRow {
    const has = this.n > 0 && this.slot >= 0;
    const slab = this.slab;
    const c = has ? slab.chunk(this.slot) : 0;
    const d = has ? slab.point(this.slot, this.n - 1) : 0;
    const o = 2 * d + 4 + 3 * slab.targets;
    const f64 = slab.f64[c];
    const f32 = slab.f32[c];
    const flags = has ? f32![o + 1]! : 0;
    const likelihood = this.lastLikelihood;
    return {
      device: this.device,
      ts: has ? f64![d]! : 0,
      values: this.lastValues,
      score: has ? j(f32![o]!) : null,
      likelihood: has && !Number.isNaN(likelihood) ? likelihood : null,
      anomaly: (flags & FLAG_ANOMALY) !== 0,
      warmup: (flags & FLAG_WARMUP) !== 0,
      open: this.open?.start ?? null,
      episodes: this.episodes.length + (this.open ? 1 : 0),
      errors: this.errors,
      lastError: this.lastError,
    };
  }

  /** Points with sequence number >= `since` that the ring still holds, oldest first. */
  pointsSince(since: number): TrackPoints {
    if (this.slot < 0) return NO_POINTS(this.n);
    const slab = this.slab;
    const T = slab.targets;
    const f64 = slab.f64[slab.chunk(this.slot)]!;
    const f32 = slab.f32[slab.chunk(this.slot)]!;
    const from = Math.max(since, this.n - slab.points, 0);
    const out: TrackPoints = { from, to: this.n, ts: [], value: [], expected: [], band: [], score: [], likelihood: [], anomaly: [], warmup: [] };
    for (let t = 0; t < T; t++) {
      out.value.push([]);
      out.expected.push([]);
      out.band.push([]);
    }
    for (let k = from; k < this.n; k++) {
      const d = slab.point(this.slot, k);
      const o = 2 * d + 4;
      out.ts.push(f64[d]!);
      for (let t = 0; t < T; t++) {
        out.value[t]!.push(j(f32[o + t]!));
        out.expected[t]!.push(j(f32[o + T + t]!));
        out.band[t]!.push(j(f32[o + 2 * T + t]!));
      }
      out.score.push(j(f32[o + 3 * T]!));
      const l = f64[d + 1]!;
      out.likelihood.push(Number.isNaN(l) ? null : l);
      const flags = f32[o + 3 * T + 1]!;
      out.anomaly.push((flags & FLAG_ANOMALY) !== 0);
      out.warmup.push((flags & FLAG_WARMUP) !== 0);
    }
    return out;
  }

  /** Episodes, oldest first, the open one last. */
  allEpisodes(): EpisodeMark[] {
    return this.open ? [...this.episodes, { ...this.open }] : [...this.episodes];
  }
}
