import type { BatchResults } from '../engine/batch-results';
import type { Episode, Result } from '../engine/sample';

/** Band half-width in error scales: forecast ± BAND_K × the device's recent RMS error. */
export const BAND_K = 3;
/** Readings the error scale averages over (exponentially weighted; a plain mean until this many). */
const SCALE_SPAN = 50;
/** Closed episodes kept per device (the open one besides): older ones are dropped. */
export const EPISODES_KEPT = 16;

const FLAG_ANOMALY = 1;
const FLAG_WARMUP = 2;

/**
 * Bytes of one point in a device's ring: timestamp and likelihood (2 × 8),
 * then per target the value, the forecast and the band half-width (3 × 4),
 * the score and the flags (2 × 4), rounded up to 8. A point's fields sit
 * together, so recording one touches one or two cache lines, not one per
 * field (the fleet's rings are far larger than the CPU's caches).
 */
export function pointBytes(targets: number): number {
  return Math.ceil((16 + 4 * (3 * targets + 2)) / 8) * 8;
}

/**
 * Bytes of one device: its ring (`points` × pointBytes), the error scale per
 * target (16 each) and 1 KB for its objects (Map entry, id, the buffer and
 * its two views, episodes, latest values and forecast). Measured: 10,301
 * bytes per device at 240 points, one target (10,000 devices, heap and array
 * buffers after GC); this gives 10,640.
 */
export function bytesPerDevice(points: number, targets: number): number {
  return points * pointBytes(targets) + 16 * targets + 1024;
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

/** `src[off .. off+n)` into `dst`, reused when it has the length already (a new array otherwise). */
function copyInto(dst: number[], src: ArrayLike<number>, off: number, n: number): number[] {
  const out = dst.length === n ? dst : new Array<number>(n);
  for (let k = 0; k < n; k++) out[k] = src[off + k]!;
  return out;
}

/** A stored float for JSON: NaN as null, float32 noise rounded off (7 significant digits). */
const j = (x: number): number | null => (Number.isNaN(x) ? null : Number(x.toPrecision(7)));

/**
 * One device's recent history in fixed-size typed arrays (a ring of
 * `points`): recording a result allocates nothing once the ring exists,
 * whatever the fleet's rate. The band is the forecast ± BAND_K × the RMS of
 * the device's recent forecast errors, taken before the reading's own error
 * joins it (so a jump lands outside its band).
 */
export class DeviceTrack {
  readonly device: string;
  readonly points: number;
  readonly targets: number;
  /** Points recorded so far (the ring holds the last `points` of them). */
  n = 0;
  /** Set on every record; the fleet's eviction clears it (second chance). */
  touched = true;
  errors = 0;
  lastError: string | null = null;
  readonly episodes: EpisodeMark[] = [];
  open: EpisodeMark | null = null;
  /** Latest forecast (step-major, as in the result) and the median spacing estimate of readings. */
  forecast: number[] = [];
  /** The device's one buffer as doubles: per target its mean squared error and readings seen, then the ring's points. */
  readonly #f64: Float64Array;
  /** The same buffer as floats (the points' float32 fields). */
  readonly #f32: Float32Array;
  /** Offsets, in doubles, of the ring and of a point (the float32 fields of point p start at 2 × (#ring + p × #stride) + 4). */
  readonly #ring: number;
  readonly #stride: number;
  #lastValues: number[] = [];
  /** The last point's likelihood (NaN before any): the fleet table sorts by it without reading the ring. */
  lastLikelihood = NaN;

  constructor(device: string, points: number, targets: number) {
    this.device = device;
    this.points = points;
    this.targets = targets;
    this.#stride = pointBytes(targets) / 8;
    this.#ring = 2 * targets;
    const buffer = new ArrayBuffer((this.#ring + points * this.#stride) * 8);
    this.#f64 = new Float64Array(buffer);
    this.#f32 = new Float32Array(buffer);
  }

  /** Records a result; `targetIndex[t]` is the position of target t in `r.values`. */
  record(r: Result, targetIndex: readonly number[]): void {
    const exp = r.expected;
    const err = r.error;
    this.#put(r.ts, r.values, exp ?? NO_VALUES, exp === null ? -1 : 0, err ?? NO_VALUES, err === null ? -1 : 0, r.score ?? NaN, r.likelihood ?? NaN, r.anomaly, r.warmup, r.forecast, 0, r.forecast.length, targetIndex);
    if (r.episode !== null) this.#episode(r.ts, r.episode);
  }

  /**
   * Records row `i` of an engine batch straight from its columns (the service's path without a
   * Result object): the same point as `record(b.result(i))`, with no allocation once the ring exists
   * (an Episode only while one is open or closing).
   */
  recordRow(b: BatchResults, i: number, targetIndex: readonly number[]): void {
    const C = b.columns;
    const T = b.T;
    const has = C.hasForecast[i] === 1;
    const ts = b.ts(i);
    const score = C.score[i]!;
    const likelihood = C.likelihood[i]!;
    const anomaly = C.anomaly[i] === 1;
    this.#put(ts, b.sample(i).values, C.expected, has ? i * T : -1, C.error, has ? i * T : -1, score, likelihood, anomaly, C.learning[i] === 1, C.forecast, i * T * b.horizon, T * b.horizon, targetIndex);
    // An episode exists only around anomalous rows and the closing one.
    if (anomaly || C.event[i] !== 0) {
      const ep = b.episodeOf(i, b.anomalousOf(i));
      if (ep !== null) this.#episode(ts, ep);
    }
  }

  /** One point; `expOff`/`errOff` -1: no forecast yet. Copies values and the forecast into arrays kept per device. */
  #put(ts: number, values: ArrayLike<number>, exp: ArrayLike<number>, expOff: number, err: ArrayLike<number>, errOff: number, score: number, likelihood: number, anomaly: boolean, warmup: boolean, forecast: ArrayLike<number>, fOff: number, fLen: number, targetIndex: readonly number[]): void {
    const T = this.targets;
    const f64 = this.#f64;
    const f32 = this.#f32;
    const d = this.#ring + (this.n % this.points) * this.#stride;
    const o = 2 * d + 4; // value[t], expected[t] at o + T + t, band[t] at o + 2T + t, score, flags
    f64[d] = ts;
    f64[d + 1] = likelihood;
    for (let t = 0; t < T; t++) {
      f32[o + t] = values[targetIndex[t] ?? t] ?? NaN;
      const seen = f64[T + t]!;
      const meanSq = f64[t]!;
      f32[o + 2 * T + t] = seen > 0 && expOff >= 0 ? BAND_K * Math.sqrt(meanSq) : NaN;
      f32[o + T + t] = expOff < 0 ? NaN : exp[expOff + t]!;
      const e = errOff < 0 ? NaN : err[errOff + t]!;
      if (Number.isFinite(e)) {
        const w = seen < SCALE_SPAN ? 1 / (seen + 1) : 2 / (SCALE_SPAN + 1);
        f64[t] = meanSq + w * (e * e - meanSq);
        f64[T + t] = seen + 1;
      }
    }
    f32[o + 3 * T] = score;
    f32[o + 3 * T + 1] = (anomaly ? FLAG_ANOMALY : 0) | (warmup ? FLAG_WARMUP : 0);
    this.lastLikelihood = likelihood;
    this.forecast = copyInto(this.forecast, forecast, fOff, fLen);
    this.#lastValues = copyInto(this.#lastValues, values, 0, values.length);
    this.n++;
    this.touched = true;
  }

  /** Offset in doubles of the point with sequence number k (which the ring must still hold). */
  #at(k: number): number {
    return this.#ring + (k % this.points) * this.#stride;
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

  /** Timestamp of the last point, or NaN before any. */
  get lastTs(): number {
    return this.n === 0 ? NaN : this.#f64[this.#at(this.n - 1)]!;
  }

  /** The fleet table's row. */
  row(): DeviceRow {
    const has = this.n > 0;
    const d = has ? this.#at(this.n - 1) : 0;
    const o = 2 * d + 4 + 3 * this.targets;
    const flags = has ? this.#f32[o + 1]! : 0;
    return {
      device: this.device,
      ts: has ? this.#f64[d]! : 0,
      values: this.#lastValues,
      score: has ? j(this.#f32[o]!) : null,
      likelihood: has && !Number.isNaN(this.lastLikelihood) ? this.lastLikelihood : null,
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
    const T = this.targets;
    const f64 = this.#f64;
    const f32 = this.#f32;
    const from = Math.max(since, this.n - this.points, 0);
    const out: TrackPoints = { from, to: this.n, ts: [], value: [], expected: [], band: [], score: [], likelihood: [], anomaly: [], warmup: [] };
    for (let t = 0; t < T; t++) {
      out.value.push([]);
      out.expected.push([]);
      out.band.push([]);
    }
    for (let k = from; k < this.n; k++) {
      const d = this.#at(k);
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
