import type { Model } from '../model/load-model';
import type { DeviceStateStore } from '../state/store';
import type { AuxLayout } from './aux-layout';
import { featureMean, featureStd, normalizeInto, observe } from '../model/normalizer';
import type { ResolvedEngineOptions } from './options';
import { BatchResults, ResultColumns } from './batch-results';
import type { Sample } from './sample';
import type { ServingShape } from './serving-shape';
import { ReadingScore, scoreReading, type ScoreInput } from './scoring/device-scorer';
import { calibrate, CALIBRATION_WIDTH, learnCalibration } from './forecast-calibration';

const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

/** Scratch buffers for one batch, allocated once per engine at maxBatch size. */
export class BatchScratch {
  readonly x: Float32Array;
  readonly h: Float32Array;
  readonly c: Float32Array;
  /**
   * Each device's normalization statistics with its reading folded in (statsWidth
   * floats per row): what the inputs were normalized with, committed after the step.
   */
  readonly norm: Float64Array;
  readonly normWidth: number;
  readonly fresh: Uint8Array;
  readonly reading = new ReadingScore();
  /** The scorer's input, one object refilled per reading. */
  readonly input: MutableScoreInput;
  /** A reading's predicted standard deviation per target (original units), with a variance head. */
  readonly sigma: Float64Array;
  readonly gatherSlots: number[];
  readonly copier: StateCopier;
  /** The batch's results, column by column, and the view callers read them through. */
  readonly columns: ResultColumns;
  readonly results: BatchResults;

  constructor(maxBatch: number, shape: ServingShape, normWidth: number, cells = true, horizon = 1) {
    const { F, H, L, T } = shape;
    this.x = new Float32Array(maxBatch * F);
    this.h = new Float32Array(L * maxBatch * H);
    this.c = new Float32Array(cells ? L * maxBatch * H : 0);
    this.normWidth = normWidth;
    this.norm = new Float64Array(maxBatch * normWidth);
    this.fresh = new Uint8Array(maxBatch);
    this.gatherSlots = new Array<number>(maxBatch).fill(-1);
    this.copier = new StateCopier(L, H, cells);
    this.columns = new ResultColumns(maxBatch, T, horizon);
    this.results = new BatchResults(this.columns, shape.targets, horizon);
    this.sigma = new Float64Array(T);
    this.input = { values: NO_VALUES, targetIndex: shape.targetIndex, expected: null, expectedOff: 0, sigma: null, sigmaOff: 0, ts: 0, steps: 0, warmup: 0, warmupMs: 0 };
  }
}

type MutableScoreInput = { -readonly [K in keyof ScoreInput]: ScoreInput[K] };
const NO_VALUES: readonly number[] = [];

export interface BatchContext {
  readonly model: Model;
  readonly store: DeviceStateStore;
  readonly opts: ResolvedEngineOptions;
  readonly layout: AuxLayout;
  readonly scratch: BatchScratch;
  readonly shape: ServingShape;
}

/** A sample with its timestamp settled, and the slot it was given. */
export interface BatchItem {
  sample: Sample;
  ts: number;
  slot: number;
}

export interface BatchOutcome {
  /** The batch's results, columnar (scratch.results; valid until the next batch). */
  results: BatchResults;
  /** Devices reset because their timestamps jumped by more than maxGapMs. */
  gapResets: number;
}

/**
 * Scores and steps one batch (one sample per device), in the order of
 * DESIGN.md section 3: score against the forecast made at t-1, then step.
 * Nothing in the store changes until ONNX Runtime (and any rollout) has
 * succeeded, so a failed call changes nothing: before the call only the
 * inputs are built, from a scratch copy of each device's normalization
 * statistics; after it, in one synchronous pass, each device is scored
 * against its previous forecast and its bookkeeping is updated in place in
 * the store. (The detector's record is most of a device's aux row, and
 * scoring needs nothing the step computes, so it is not copied out and
 * back.) Results are written column by column into the scratch (no object per
 * sample); BatchResults.result(i) builds a Result for callers that want one.
 */
export async function stepBatch(ctx: BatchContext, items: readonly BatchItem[]): Promise<BatchOutcome> {
  const { model, opts, layout: A, scratch: S, shape } = ctx;
  const { F, H, L } = shape;
  const norm = model.metadata.normalization;
  const W = A.width;
  const NW = S.normWidth;
  const B = items.length;

  // Phase 1: inputs. Each device's normalization statistics (zeros after a gap reset) with its reading folded in.
  let store = ctx.store;
  const storeAux = store.aux;
  const ns = S.norm;
  for (let i = 0; i < B; i++) {
    const item = items[i]!;
    const slot = item.slot;
    const base = slot * W;
    const fresh = opts.maxGapMs > 0 && storeAux[base + A.steps]! > 0 && Math.abs(item.ts - storeAux[base + A.lastTs]!) > opts.maxGapMs;
    S.fresh[i] = fresh ? 1 : 0;
    const nrow = i * NW;
    if (fresh) ns.fill(0, nrow, nrow + NW);
    else copyRow(storeAux, base + A.norm, ns, nrow, NW);
    const values = item.sample.values;
    observe(norm, ns, nrow, values);
    normalizeInto(norm, ns, nrow, values, S.x, i * F);
    S.gatherSlots[i] = fresh ? -1 : slot;
  }

  const cw = S.c.length === 0 ? 0 : L * B * H;
  S.copier.gather(S.h.subarray(0, L * B * H), S.c.subarray(0, cw), store.h, store.c, S.gatherSlots, B);

  // Phase 2: one LSTM (or GRU) step for the whole batch.
  // Channel-independently each device is `lanes` rows of the batch (serving-shape.ts).
  const out = await model.backend.run(S.x.subarray(0, B * F), S.h.subarray(0, L * B * H), S.c.subarray(0, cw), 1, B * shape.lanes);
  if (opts.horizon > 1) await rollout(ctx, out.y, out.hn, out.cn, B);

  // Phase 3: commit, in place. The store may have grown while we awaited; read its arrays afresh.
  store = ctx.store;
  const aux = store.aux;
  const gapResets = scoreAndCommit(ctx, items, aux, out.y, out.ylogvar);
  for (let i = 0; i < B; i++) S.gatherSlots[i] = items[i]!.slot;
  S.copier.scatter(out.hn, out.cn, store.h, store.c, S.gatherSlots, B);
  S.results.reset(items, model.id);
  return { results: S.results, gapResets };
}

/**
 * Per device, in the order of DESIGN.md section 3, on the store's aux row:
 * score the reading against the forecast made at t-1 (with the statistics
 * as they were before it), let the detector learn, then take the folded
 * statistics from the scratch and store the new forecast. Returns the
 * number of gap resets. Synchronous: nothing else sees a half-committed batch.
 */
function scoreAndCommit(ctx: BatchContext, items: readonly BatchItem[], aux: Float64Array, y: Float32Array, ylv: Float32Array | undefined): number {
  const { model, opts, layout: A, scratch: S, shape } = ctx;
  const { F, T } = shape;
  const norm = model.metadata.normalization;
  const tIdx = shape.targetIndex;
  const W = A.width;
  const NW = S.normWidth;
  const B = items.length;
  const C = S.columns;
  const FW = T * opts.horizon;
  const hasLogvar = model.hasLogvar;
  const calWindow = opts.scoring.calibrationWindow;
  const ns = S.norm;
  const rs = S.reading;
  const inp = S.input;
  let gapResets = 0;
  for (let i = 0; i < B; i++) {
    const item = items[i]!;
    const row = item.slot * W;
    if (S.fresh[i] === 1) {
      aux.fill(0, row, row + W);
      gapResets++;
    }
    const values = item.sample.values;
    C.score[i] = NaN;
    const has = aux[row + A.steps]! > 0;
    C.hasForecast[i] = has ? 1 : 0;
    if (has) {
      let acc = 0;
      for (let t = 0; t < T; t++) {
        const f = tIdx[t]!;
        const exp = aux[row + A.expected + t]!;
        const err = values[f]! - exp;
        C.expected[i * T + t] = exp;
        C.error[i * T + t] = err;
        const std = featureStd(norm, aux, row + A.norm, F, f);
        const z = err / std;
        if (hasLogvar) {
          const lv = aux[row + A.logvar + t]!;
          S.sigma[t] = std * Math.exp(0.5 * lv);
          acc += 0.5 * lv + 0.5 * z * z * Math.exp(-lv) + HALF_LOG_2PI;
        } else {
          acc += z * z;
        }
      }
      C.score[i] = hasLogvar ? acc / T : Math.sqrt(acc / T);
    }
    inp.values = values;
    inp.expected = has ? aux : null;
    inp.expectedOff = row + A.expected;
    inp.sigma = has && hasLogvar ? S.sigma : null;
    inp.ts = item.ts;
    inp.steps = aux[row + A.steps]!;
    inp.warmup = opts.warmup;
    inp.warmupMs = opts.warmupMs;
    C.learning[i] = scoreReading(opts.scoring, opts.threshold, aux, row + A.scoring, T, inp, rs) ? 1 : 0;
    C.likelihood[i] = rs.likelihood;
    C.anomaly[i] = rs.anomaly ? 1 : 0;
    C.mask[i] = rs.mask;
    C.event[i] = rs.event;
    C.episodeStart[i] = rs.episodeStart;
    C.episodeReadings[i] = rs.episodeReadings;
    C.episodePeak[i] = rs.episodePeak;
    // The forecast's recalibration learns from normal readings only.
    if (has && !rs.anomaly) {
      for (let t = 0; t < T; t++) learnCalibration(calWindow, aux, row + A.calibration + t * CALIBRATION_WIDTH, values[tIdx[t]!]!);
    }
    // The statistics with this reading folded in (phase 1), then the forecast in original units.
    copyRow(ns, i * NW, aux, row + A.norm, NW);
    for (let t = 0; t < T; t++) {
      const f = tIdx[t]!;
      const raw = featureMean(norm, aux, row + A.norm, f) + y[i * T + t]! * featureStd(norm, aux, row + A.norm, F, f);
      const v = calibrate(calWindow, aux, row + A.calibration + t * CALIBRATION_WIDTH, values[f]!, raw);
      C.forecast[i * FW + t] = v;
      aux[row + A.expected + t] = v;
      if (ylv) aux[row + A.logvar + t] = ylv[i * T + t]!;
    }
    aux[row + A.steps] = aux[row + A.steps]! + 1;
    aux[row + A.lastTs] = item.ts;
  }
  inp.values = NO_VALUES;
  inp.expected = null;
  inp.sigma = null;
  return gapResets;
}

/**
 * Feeds each forecast back as the next input, on copies of the state (the
 * live state never advances by a forecast). Features that are not targets
 * are held at their last value.
 */
async function rollout(ctx: BatchContext, y0: Float32Array, hn: Float32Array, cn: Float32Array, B: number): Promise<void> {
  const { model, opts, scratch: S, shape } = ctx;
  const { F, T } = shape;
  const norm = model.metadata.normalization;
  const FW = T * opts.horizon;
  const forecast = S.columns.forecast;
  const x = Float32Array.from(S.x.subarray(0, B * F));
  let y = y0;
  let h = hn;
  let c = cn;
  for (let step = 1; step < opts.horizon; step++) {
    for (let i = 0; i < B; i++) for (let t = 0; t < T; t++) x[i * F + shape.targetIndex[t]!] = y[i * T + t]!;
    const out = await model.backend.run(x, Float32Array.from(h), Float32Array.from(c), 1, B * shape.lanes);
    for (let i = 0; i < B; i++) {
      const row = i * S.normWidth;
      for (let t = 0; t < T; t++) {
        const f = shape.targetIndex[t]!;
        forecast[i * FW + step * T + t] = featureMean(norm, S.norm, row, f) + out.y[i * T + t]! * featureStd(norm, S.norm, row, F, f);
      }
    }
    y = out.y;
    h = out.hn;
    c = out.cn;
  }
}

// Small monomorphic loops over locals: V8 keeps the arrays in registers, which the
// same loops written against object properties inside stepBatch did not get.
function copyRow(src: Float64Array, from: number, dst: Float64Array, to: number, n: number): void {
  for (let k = 0; k < n; k++) dst[to + k] = src[from + k]!;
}

/**
 * Copies move float32 pairs as float64 when every offset allows it (H even,
 * buffers 8-byte aligned): half the element moves, which is most of the
 * gather/scatter cost at H=32.
 */
function pairView(a: Float32Array, H: number): Float64Array | undefined {
  return H % 2 === 0 && a.byteOffset % 8 === 0 && a.length % 2 === 0 ? new Float64Array(a.buffer, a.byteOffset, a.length / 2) : undefined;
}

function copySpan(src: Float32Array | Float64Array, from: number, dst: Float32Array | Float64Array, to: number, n: number): void {
  for (let k = 0; k < n; k++) dst[to + k] = src[from + k]!;
}

/**
 * Gathers and scatters through float64 pair views when alignment allows,
 * float32 otherwise. h and c are copied one array after the other; a model
 * without a cell state (GRU) copies h only.
 */
export class StateCopier {
  readonly #H: number;
  readonly #L: number;
  readonly #cells: boolean;
  constructor(L: number, H: number, cells = true) {
    this.#L = L;
    this.#H = H;
    this.#cells = cells;
  }

  gather(bh: Float32Array, bc: Float32Array, sh: Float32Array, sc: Float32Array, slots: readonly number[], B: number): void {
    this.#gatherOne(bh, sh, slots, B);
    if (this.#cells) this.#gatherOne(bc, sc, slots, B);
  }

  scatter(hn: Float32Array, cn: Float32Array, sh: Float32Array, sc: Float32Array, slots: readonly number[], B: number): void {
    this.#scatterOne(hn, sh, slots, B);
    if (this.#cells) this.#scatterOne(cn, sc, slots, B);
  }

  /** Batch row i ([L, B, H] layout) gets the state of slots[i], or zeros when that is -1. */
  #gatherOne(b: Float32Array, s: Float32Array, slots: readonly number[], B: number): void {
    const H = this.#H;
    const L = this.#L;
    if (L === 1 && copyRuns(s, b, slots, B, H, true)) return;
    const b2 = pairView(b, H);
    const s2 = pairView(s, H);
    const [bv, sv, n] = b2 && s2 ? [b2, s2, H / 2] : [b, s, H];
    for (let i = 0; i < B; i++) {
      const slot = slots[i]!;
      for (let l = 0; l < L; l++) {
        const dst = (l * B + i) * n;
        if (slot < 0) bv.fill(0, dst, dst + n);
        else copySpan(sv, (slot * L + l) * n, bv, dst, n);
      }
    }
  }

  #scatterOne(b: Float32Array, s: Float32Array, slots: readonly number[], B: number): void {
    const H = this.#H;
    const L = this.#L;
    if (L === 1 && copyRuns(b, s, slots, B, H, false)) return;
    const b2 = pairView(b, H);
    const s2 = pairView(s, H);
    const [bv, sv, n] = b2 && s2 ? [b2, s2, H / 2] : [b, s, H];
    for (let i = 0; i < B; i++) {
      const slot = slots[i]!;
      for (let l = 0; l < L; l++) copySpan(bv, (l * B + i) * n, sv, (slot * L + l) * n, n);
    }
  }
}

/** Batches whose slots mostly run in order (devices that report in turn) are copied run by run. */
const MIN_RUN = 16;

/**
 * With one layer, the store's [slot, H] rows and the batch's [B, H] rows have
 * the same layout, so a run of consecutive slots is one memcpy (TypedArray
 * set) instead of a loop. Returns false, having copied nothing, when the
 * batch has too few long runs for that to pay (the caller then loops).
 * `toBatch`: store -> batch (gather; slot -1 means zeros) or batch -> store.
 */
function copyRuns(src: Float32Array, dst: Float32Array, slots: readonly number[], B: number, H: number, toBatch: boolean): boolean {
  let inRuns = 0;
  for (let i = 0; i < B; ) {
    let j = i + 1;
    const s0 = slots[i]!;
    while (j < B && s0 >= 0 && slots[j] === s0 + (j - i)) j++;
    if (j - i >= MIN_RUN) inRuns += j - i;
    i = j;
  }
  if (inRuns * 2 < B) return false;
  for (let i = 0; i < B; ) {
    const s0 = slots[i]!;
    let j = i + 1;
    while (j < B && s0 >= 0 && slots[j] === s0 + (j - i)) j++;
    if (s0 < 0) {
      // Only in a gather: a fresh device starts from zeros.
      dst.fill(0, i * H, (i + 1) * H);
    } else if (j - i >= MIN_RUN) {
      const n = (j - i) * H;
      if (toBatch) dst.set(src.subarray(s0 * H, s0 * H + n), i * H);
      else dst.set(src.subarray(i * H, i * H + n), s0 * H);
    } else {
      for (let k = i; k < j; k++) {
        const s = slots[k]!;
        copySpan(src, toBatch ? s * H : k * H, dst, toBatch ? k * H : s * H, H);
      }
    }
    i = j;
  }
  return true;
}
