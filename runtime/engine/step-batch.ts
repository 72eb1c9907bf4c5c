import type { Model } from '../model/load-model';
import type { DeviceStateStore } from '../state/store';
import type { AuxLayout } from './aux-layout';
import { updateLikelihood } from './likelihood';
import { featureMean, featureStd, normalizeInto, observe } from './normalizer';
import type { ResolvedEngineOptions } from './options';
import type { Result, Sample } from './sample';

const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

/** Scratch buffers for one batch, allocated once per engine at maxBatch size. */
export class BatchScratch {
  readonly x: Float32Array;
  readonly h: Float32Array;
  readonly c: Float32Array;
  readonly aux: Float64Array;
  readonly fresh: Uint8Array;
  readonly score: Float64Array;
  readonly likelihood: Float64Array;
  readonly gatherSlots: number[];
  readonly copier: StateCopier;

  constructor(maxBatch: number, model: Model, auxWidth: number) {
    const { F, H, L } = model.dims;
    this.x = new Float32Array(maxBatch * F);
    this.h = new Float32Array(L * maxBatch * H);
    this.c = new Float32Array(L * maxBatch * H);
    this.aux = new Float64Array(maxBatch * auxWidth);
    this.fresh = new Uint8Array(maxBatch);
    this.score = new Float64Array(maxBatch);
    this.likelihood = new Float64Array(maxBatch);
    this.gatherSlots = new Array<number>(maxBatch).fill(-1);
    this.copier = new StateCopier(L, H);
  }
}

export interface BatchContext {
  readonly model: Model;
  readonly store: DeviceStateStore;
  readonly opts: ResolvedEngineOptions;
  readonly layout: AuxLayout;
  readonly scratch: BatchScratch;
}

/** A sample with its timestamp settled, and the slot it was given. */
export interface BatchItem {
  sample: Sample;
  ts: number;
  slot: number;
}

export interface BatchOutcome {
  results: Result[];
  /** Devices reset because their timestamps jumped by more than maxGapMs. */
  gapResets: number;
}

/**
 * Scores and steps one batch (one sample per device), in the order of
 * DESIGN.md section 3: score against the forecast made at t-1, then step.
 * All per-device changes are made on scratch copies and committed to the
 * store only after ONNX Runtime succeeded, so a failed call changes nothing.
 */
export async function stepBatch(ctx: BatchContext, items: readonly BatchItem[]): Promise<BatchOutcome> {
  const { model, opts, layout: A, scratch: S } = ctx;
  const { F, H, L, T } = model.dims;
  const norm = model.metadata.normalization;
  const tIdx = model.targetIndex;
  const W = A.width;
  const B = items.length;
  const likelihoodAfter = Math.floor(opts.warmup / 2);
  let gapResets = 0;

  // Phase 1: score against the previous forecast, fold the sample into the statistics, build inputs.
  const expected: (number[] | null)[] = new Array<number[] | null>(B);
  const errors: (number[] | null)[] = new Array<number[] | null>(B);
  let store = ctx.store;
  for (let i = 0; i < B; i++) {
    const item = items[i]!;
    const slot = item.slot;
    const ts = item.ts;
    const row = i * W;
    copyRow(store.aux, slot * W, S.aux, row, W);
    S.fresh[i] = 0;
    const steps = S.aux[row + A.steps]!;
    if (opts.maxGapMs > 0 && steps > 0 && Math.abs(ts - S.aux[row + A.lastTs]!) > opts.maxGapMs) {
      S.aux.fill(0, row, row + W);
      S.fresh[i] = 1;
      gapResets++;
    }
    const values = item.sample.values;
    S.score[i] = NaN;
    S.likelihood[i] = NaN;
    if (S.aux[row + A.steps]! > 0) {
      const exp = new Array<number>(T);
      const err = new Array<number>(T);
      let acc = 0;
      for (let t = 0; t < T; t++) {
        const f = tIdx[t]!;
        exp[t] = S.aux[row + A.expected + t]!;
        err[t] = values[f]! - exp[t]!;
        const z = err[t]! / featureStd(norm, S.aux, row + A.norm, F, f);
        if (model.hasLogvar) {
          const lv = S.aux[row + A.logvar + t]!;
          acc += 0.5 * lv + 0.5 * z * z * Math.exp(-lv) + HALF_LOG_2PI;
        } else {
          acc += z * z;
        }
      }
      const score = model.hasLogvar ? acc / T : Math.sqrt(acc / T);
      S.score[i] = score;
      expected[i] = exp;
      errors[i] = err;
      if (S.aux[row + A.steps]! >= likelihoodAfter) S.likelihood[i] = updateLikelihood(opts.likelihood, S.aux, row + A.likelihood, score);
    } else {
      expected[i] = null;
      errors[i] = null;
    }
    observe(norm, S.aux, row + A.norm, values);
    normalizeInto(norm, S.aux, row + A.norm, values, S.x, i * F);
    S.gatherSlots[i] = S.fresh[i] === 1 ? -1 : slot;
  }

  S.copier.gather(S.h.subarray(0, L * B * H), S.c.subarray(0, L * B * H), store.h, store.c, S.gatherSlots, B);

  // Phase 2: one LSTM step for the whole batch.
  const out = await model.backend.run(S.x.subarray(0, B * F), S.h.subarray(0, L * B * H), S.c.subarray(0, L * B * H), 1, B);

  // Phase 3: forecasts in original units; optional rollout on copies of the new state.
  const forecasts: number[][] = new Array<number[]>(B);
  for (let i = 0; i < B; i++) {
    const row = i * W;
    const fc = new Array<number>(T * opts.horizon);
    for (let t = 0; t < T; t++) {
      const f = tIdx[t]!;
      const v = featureMean(norm, S.aux, row + A.norm, f) + out.y[i * T + t]! * featureStd(norm, S.aux, row + A.norm, F, f);
      fc[t] = v;
      S.aux[row + A.expected + t] = v;
      if (out.ylogvar) S.aux[row + A.logvar + t] = out.ylogvar[i * T + t]!;
    }
    forecasts[i] = fc;
    S.aux[row + A.steps] = S.aux[row + A.steps]! + 1;
    S.aux[row + A.lastTs] = items[i]!.ts;
  }
  if (opts.horizon > 1) await rollout(ctx, out.y, out.hn, out.cn, B, forecasts);

  // Phase 4: commit. The store may have grown while we awaited; read its arrays afresh.
  store = ctx.store;
  for (let i = 0; i < B; i++) S.gatherSlots[i] = items[i]!.slot;
  S.copier.scatter(out.hn, out.cn, store.h, store.c, S.gatherSlots, B);
  const results: Result[] = new Array<Result>(B);
  for (let i = 0; i < B; i++) {
    const { sample, ts, slot } = items[i]!;
    copyRow(S.aux, i * W, store.aux, slot * W, W);
    const steps = S.aux[i * W + A.steps]!;
    const warmup = steps <= opts.warmup;
    const score = S.score[i]!;
    const likelihood = S.likelihood[i]!;
    results[i] = {
      device: sample.device,
      ts,
      // The caller's array is not copied: results are built once per sample and the engine never writes to it.
      values: Array.isArray(sample.values) ? (sample.values as number[]) : Array.from(sample.values),
      expected: expected[i]!,
      error: errors[i]!,
      score: Number.isNaN(score) ? null : score,
      likelihood: Number.isNaN(likelihood) ? null : likelihood,
      anomaly: !warmup && !Number.isNaN(likelihood) && likelihood >= opts.threshold,
      forecast: forecasts[i]!,
      warmup,
      model: model.id,
    };
  }
  return { results, gapResets };
}

/**
 * Feeds each forecast back as the next input, on copies of the state (the
 * live state never advances by a forecast). Features that are not targets
 * are held at their last value.
 */
async function rollout(ctx: BatchContext, y0: Float32Array, hn: Float32Array, cn: Float32Array, B: number, forecasts: number[][]): Promise<void> {
  const { model, opts, layout: A, scratch: S } = ctx;
  const { F, T } = model.dims;
  const norm = model.metadata.normalization;
  const x = Float32Array.from(S.x.subarray(0, B * F));
  let y = y0;
  let h = hn;
  let c = cn;
  for (let step = 1; step < opts.horizon; step++) {
    for (let i = 0; i < B; i++) for (let t = 0; t < T; t++) x[i * F + model.targetIndex[t]!] = y[i * T + t]!;
    const out = await model.backend.run(x, Float32Array.from(h), Float32Array.from(c), 1, B);
    for (let i = 0; i < B; i++) {
      const row = i * A.width;
      for (let t = 0; t < T; t++) {
        const f = model.targetIndex[t]!;
        forecasts[i]![step * T + t] = featureMean(norm, S.aux, row + A.norm, f) + out.y[i * T + t]! * featureStd(norm, S.aux, row + A.norm, F, f);
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

/** Device `i` of the batch gets the state of `slot` ([L, B, H] layout), or zeros when slot is -1. */
function gatherState(bh: Float32Array, bc: Float32Array, sh: Float32Array, sc: Float32Array, slot: number, i: number, B: number, L: number, H: number): void {
  for (let l = 0; l < L; l++) {
    const dst = (l * B + i) * H;
    if (slot < 0) {
      bh.fill(0, dst, dst + H);
      bc.fill(0, dst, dst + H);
      continue;
    }
    copySpan(sh, (slot * L + l) * H, bh, dst, H);
    copySpan(sc, (slot * L + l) * H, bc, dst, H);
  }
}

function scatterState(hn: Float32Array, cn: Float32Array, sh: Float32Array, sc: Float32Array, slot: number, i: number, B: number, L: number, H: number): void {
  for (let l = 0; l < L; l++) {
    copySpan(hn, (l * B + i) * H, sh, (slot * L + l) * H, H);
    copySpan(cn, (l * B + i) * H, sc, (slot * L + l) * H, H);
  }
}

function copySpan(src: Float32Array | Float64Array, from: number, dst: Float32Array | Float64Array, to: number, n: number): void {
  for (let k = 0; k < n; k++) dst[to + k] = src[from + k]!;
}

/** Gathers and scatters through float64 pair views when alignment allows, float32 otherwise. */
export class StateCopier {
  readonly #H: number;
  readonly #L: number;
  constructor(L: number, H: number) {
    this.#L = L;
    this.#H = H;
  }

  gather(bh: Float32Array, bc: Float32Array, sh: Float32Array, sc: Float32Array, slots: readonly number[], B: number): void {
    const H = this.#H;
    const L = this.#L;
    if (L === 1 && copyRuns(sh, sc, bh, bc, slots, B, H, true)) return;
    const v = [pairView(bh, H), pairView(bc, H), pairView(sh, H), pairView(sc, H)];
    if (v.every((x) => x !== undefined)) {
      const [bh2, bc2, sh2, sc2] = v as Float64Array[];
      const h2 = H / 2;
      for (let i = 0; i < B; i++) {
        const slot = slots[i]!;
        for (let l = 0; l < L; l++) {
          const dst = (l * B + i) * h2;
          if (slot < 0) {
            bh2!.fill(0, dst, dst + h2);
            bc2!.fill(0, dst, dst + h2);
          } else {
            copySpan(sh2!, (slot * L + l) * h2, bh2!, dst, h2);
            copySpan(sc2!, (slot * L + l) * h2, bc2!, dst, h2);
          }
        }
      }
      return;
    }
    for (let i = 0; i < B; i++) gatherState(bh, bc, sh, sc, slots[i]!, i, B, L, H);
  }

  scatter(hn: Float32Array, cn: Float32Array, sh: Float32Array, sc: Float32Array, slots: readonly number[], B: number): void {
    const H = this.#H;
    const L = this.#L;
    if (L === 1 && copyRuns(hn, cn, sh, sc, slots, B, H, false)) return;
    const v = [pairView(hn, H), pairView(cn, H), pairView(sh, H), pairView(sc, H)];
    if (v.every((x) => x !== undefined)) {
      const [hn2, cn2, sh2, sc2] = v as Float64Array[];
      const h2 = H / 2;
      for (let i = 0; i < B; i++) {
        const slot = slots[i]!;
        for (let l = 0; l < L; l++) {
          copySpan(hn2!, (l * B + i) * h2, sh2!, (slot * L + l) * h2, h2);
          copySpan(cn2!, (l * B + i) * h2, sc2!, (slot * L + l) * h2, h2);
        }
      }
      return;
    }
    for (let i = 0; i < B; i++) scatterState(hn, cn, sh, sc, slots[i]!, i, B, L, H);
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
function copyRuns(srcH: Float32Array, srcC: Float32Array, dstH: Float32Array, dstC: Float32Array, slots: readonly number[], B: number, H: number, toBatch: boolean): boolean {
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
      dstH.fill(0, i * H, (i + 1) * H);
      dstC.fill(0, i * H, (i + 1) * H);
    } else if (j - i >= MIN_RUN) {
      const n = (j - i) * H;
      if (toBatch) {
        dstH.set(srcH.subarray(s0 * H, s0 * H + n), i * H);
        dstC.set(srcC.subarray(s0 * H, s0 * H + n), i * H);
      } else {
        dstH.set(srcH.subarray(i * H, i * H + n), s0 * H);
        dstC.set(srcC.subarray(i * H, i * H + n), s0 * H);
      }
    } else {
      for (let k = i; k < j; k++) {
        const s = slots[k]!;
        const from = toBatch ? s * H : k * H;
        const to = toBatch ? k * H : s * H;
        copySpan(srcH, from, dstH, to, H);
        copySpan(srcC, from, dstC, to, H);
      }
    }
    i = j;
  }
  return true;
}
