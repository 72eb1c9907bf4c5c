import type { ParamLayout } from './param-layout';

/** log-variance is clamped in the loss so one wild window cannot overflow exp(). */
export const LOGVAR_LIMIT = 12;
const HALF_LOG_2PI = 0.5 * Math.log(2 * Math.PI);

/**
 * Loss and gradient of one window by backpropagation through time.
 *
 * A window is `steps` consecutive rows of a series: inputs x[t] (F values)
 * and targets y[t] (T values, the next reading, normalized), starting from a
 * zero state. Every step's prediction counts in the loss: squared error, or
 * the Gaussian negative log-likelihood when the net has a log-variance head.
 *
 * Hot path: every buffer is allocated once in the constructor for the longest
 * window; a call allocates nothing and touches only typed arrays, so V8 keeps
 * it in optimized machine code.
 */
/** What training needs of a network: WindowGradient (LSTM) and GruWindowGradient. */
export interface WindowNet {
  readonly layout: ParamLayout;
  readonly maxSteps: number;
  forward(p: Float64Array, x: Float64Array, xOff: number, y: Float64Array, yOff: number, steps: number): number;
  squaredError(y: Float64Array, yOff: number, steps: number): number;
  lossAndGrad(p: Float64Array, grad: Float64Array, x: Float64Array, xOff: number, y: Float64Array, yOff: number, steps: number): number;
}

/** The summed squared error of `n` predictions in yHat against y from yOff: for reporting MSE next to NLL. */
export function squaredErrorOf(yHat: Float64Array, y: Float64Array, yOff: number, n: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) {
    const e = yHat[i]! - y[yOff + i]!;
    s += e * e;
  }
  return s;
}

/**
 * The heads at step t: predictions (and log-variances) from the top layer's h at hOff; returns the step's loss.
 * A residual head adds the step's input features (the row of x at xRow) to the predictions: a constant
 * that backward needs no term for, as the loss's gradient is taken at the prediction it makes.
 */
export function headForward(lay: ParamLayout, p: Float64Array, hs: Float64Array, hOff: number, x: Float64Array, xRow: number, y: Float64Array, yRow: number, yHat: Float64Array, logvar: Float64Array, t: number): number {
  const { hiddenSize: H, outputs: T, logvar: withLogvar, residual } = lay.shape;
  const delta = lay.shape.huberDelta ?? 0;
  let loss = 0;
  for (let o = 0; o < T; o++) {
    let s = p[lay.headB + o]! + (residual ? x[xRow + residual[o]!]! : 0);
    const wr = lay.headW + o * H;
    for (let k = 0; k < H; k++) s += p[wr + k]! * hs[hOff + k]!;
    yHat[t * T + o] = s;
    const e = s - y[yRow + o]!;
    if (withLogvar) {
      let v = p[lay.logvarB + o]!;
      const vr = lay.logvarW + o * H;
      for (let k = 0; k < H; k++) v += p[vr + k]! * hs[hOff + k]!;
      logvar[t * T + o] = v;
      const lv = v > LOGVAR_LIMIT ? LOGVAR_LIMIT : v < -LOGVAR_LIMIT ? -LOGVAR_LIMIT : v;
      loss += 0.5 * lv + 0.5 * e * e * Math.exp(-lv) + HALF_LOG_2PI;
    } else if (delta > 0 && (e > delta || e < -delta)) {
      // Huber, scaled to meet the squared error (and its gradient 2e) at |e| = delta.
      loss += 2 * delta * Math.abs(e) - delta * delta;
    } else {
      loss += e * e;
    }
  }
  return loss;
}

/** The heads' gradients at step t: into `grad`, and d(loss)/d(top h) added into dh. */
export function headBackward(lay: ParamLayout, p: Float64Array, grad: Float64Array, hs: Float64Array, hOff: number, y: Float64Array, yRow: number, yHat: Float64Array, logvar: Float64Array, t: number, dy: Float64Array, dlv: Float64Array, dh: Float64Array): void {
  const { hiddenSize: H, outputs: T, logvar: withLogvar } = lay.shape;
  const delta = lay.shape.huberDelta ?? 0;
  for (let o = 0; o < T; o++) {
    const e = yHat[t * T + o]! - y[yRow + o]!;
    if (withLogvar) {
      const v = logvar[t * T + o]!;
      const clamped = v > LOGVAR_LIMIT || v < -LOGVAR_LIMIT;
      const lv = clamped ? (v > 0 ? LOGVAR_LIMIT : -LOGVAR_LIMIT) : v;
      const prec = Math.exp(-lv);
      dy[o] = e * prec;
      dlv[o] = clamped ? 0 : 0.5 - 0.5 * e * e * prec;
    } else {
      dy[o] = delta > 0 && e > delta ? 2 * delta : delta > 0 && e < -delta ? -2 * delta : 2 * e;
    }
  }
  for (let o = 0; o < T; o++) {
    const d = dy[o]!;
    grad[lay.headB + o] += d;
    const wr = lay.headW + o * H;
    for (let k = 0; k < H; k++) {
      grad[wr + k] += d * hs[hOff + k]!;
      dh[k] += d * p[wr + k]!;
    }
    if (withLogvar) {
      const dv = dlv[o]!;
      grad[lay.logvarB + o] += dv;
      const vr = lay.logvarW + o * H;
      for (let k = 0; k < H; k++) {
        grad[vr + k] += dv * hs[hOff + k]!;
        dh[k] += dv * p[vr + k]!;
      }
    }
  }
}

export class WindowGradient implements WindowNet {
  readonly layout: ParamLayout;
  readonly maxSteps: number;
  // Per (step, layer): gate activations [i, o, f, g] (4H), tanh(c) (H).
  readonly #gates: Float64Array;
  readonly #tanhC: Float64Array;
  // Per (step + 1, layer): h and c; slot 0 is the zero initial state.
  readonly #h: Float64Array;
  readonly #c: Float64Array;
  // Per step: predictions and log-variances (T each).
  readonly #yHat: Float64Array;
  readonly #logvar: Float64Array;
  // Backward scratch.
  readonly #bias: Float64Array;
  // R transposed per layer ([H][4H]), so dh = R^T da is a row-major dot product.
  readonly #rT: Float64Array;
  // Gate gradients of every (step, layer): the weight gradients are summed over time after the backward sweep.
  readonly #da: Float64Array;
  readonly #dhNext: Float64Array;
  readonly #dcNext: Float64Array;
  readonly #dh: Float64Array;
  readonly #dBelow: Float64Array;
  readonly #dy: Float64Array;
  readonly #dlv: Float64Array;

  constructor(layout: ParamLayout, maxSteps: number) {
    this.layout = layout;
    this.maxSteps = maxSteps;
    const { hiddenSize: H, layers: L, outputs: T } = layout.shape;
    this.#gates = new Float64Array(maxSteps * L * 4 * H);
    this.#tanhC = new Float64Array(maxSteps * L * H);
    this.#h = new Float64Array((maxSteps + 1) * L * H);
    this.#c = new Float64Array((maxSteps + 1) * L * H);
    this.#yHat = new Float64Array(maxSteps * T);
    this.#logvar = new Float64Array(maxSteps * T);
    this.#bias = new Float64Array(L * 4 * H);
    this.#rT = new Float64Array(L * 4 * H * H);
    this.#da = new Float64Array(maxSteps * L * 4 * H);
    this.#dhNext = new Float64Array(L * H);
    this.#dcNext = new Float64Array(L * H);
    this.#dh = new Float64Array(H);
    this.#dBelow = new Float64Array(H);
    this.#dy = new Float64Array(T);
    this.#dlv = new Float64Array(T);
  }

  /**
   * Runs the window forward; returns the summed loss over steps x targets.
   * x holds rows of F values from xOff, y rows of T values from yOff.
   */
  forward(p: Float64Array, x: Float64Array, xOff: number, y: Float64Array, yOff: number, steps: number): number {
    const lay = this.layout;
    const { inputSize: F, hiddenSize: H, layers: L, outputs: T } = lay.shape;
    const G = 4 * H;
    const gates = this.#gates;
    const tanhC = this.#tanhC;
    const hs = this.#h;
    const cs = this.#c;
    const bias = this.#bias;
    for (let l = 0; l < L; l++) {
      const lo = lay.layers[l]!;
      for (let g = 0; g < G; g++) bias[l * G + g] = p[lo.Wb + g]! + p[lo.Rb + g]!;
    }
    hs.fill(0, 0, L * H);
    cs.fill(0, 0, L * H);
    let loss = 0;
    for (let t = 0; t < steps; t++) {
      for (let l = 0; l < L; l++) {
        const lo = lay.layers[l]!;
        const inSize = lo.inSize;
        // The layer's input: the features of step t, or the new h of the layer below.
        const inArr = l === 0 ? x : hs;
        const inOff = l === 0 ? xOff + t * F : ((t + 1) * L + l - 1) * H;
        const prevOff = (t * L + l) * H;
        const gOff = (t * L + l) * G;
        const Wo = lo.W;
        const Ro = lo.R;
        for (let g = 0; g < G; g++) gates[gOff + g] = bias[l * G + g]!;
        matVecAdd(gates, gOff, p, Wo, G, inSize, inArr, inOff);
        matVecAdd(gates, gOff, p, Ro, G, H, hs, prevOff);
        for (let g = 0; g < 3 * H; g++) gates[gOff + g] = 1 / (1 + Math.exp(-gates[gOff + g]!));
        for (let g = 3 * H; g < G; g++) gates[gOff + g] = tanh(gates[gOff + g]!);
        const outOff = ((t + 1) * L + l) * H;
        const tcOff = (t * L + l) * H;
        for (let j = 0; j < H; j++) {
          const c = gates[gOff + 2 * H + j]! * cs[prevOff + j]! + gates[gOff + j]! * gates[gOff + 3 * H + j]!;
          cs[outOff + j] = c;
          const tc = tanh(c);
          tanhC[tcOff + j] = tc;
          hs[outOff + j] = gates[gOff + H + j]! * tc;
        }
      }
      loss += headForward(lay, p, hs, ((t + 1) * L + L - 1) * H, x, xOff + t * F, y, yOff + t * T, this.#yHat, this.#logvar, t);
    }
    return loss;
  }

  /** The squared error of the last forward pass (summed), whatever the loss: for reporting MSE next to NLL. */
  squaredError(y: Float64Array, yOff: number, steps: number): number {
    return squaredErrorOf(this.#yHat, y, yOff, steps * this.layout.shape.outputs);
  }

  /** Forward, then adds d(summed loss)/d(params) into `grad`; returns the summed loss. */
  lossAndGrad(p: Float64Array, grad: Float64Array, x: Float64Array, xOff: number, y: Float64Array, yOff: number, steps: number): number {
    const loss = this.forward(p, x, xOff, y, yOff, steps);
    const lay = this.layout;
    const { inputSize: F, hiddenSize: H, layers: L, outputs: T } = lay.shape;
    const G = 4 * H;
    const gates = this.#gates;
    const tanhC = this.#tanhC;
    const hs = this.#h;
    const cs = this.#c;
    const daAll = this.#da;
    const rT = this.#rT;
    const dh = this.#dh;
    const dBelow = this.#dBelow;
    const dhNext = this.#dhNext;
    const dcNext = this.#dcNext;
    for (let l = 0; l < L; l++) {
      const Ro = lay.layers[l]!.R;
      for (let g = 0; g < G; g++) for (let k = 0; k < H; k++) rT[(l * H + k) * G + g] = p[Ro + g * H + k]!;
    }
    dhNext.fill(0);
    dcNext.fill(0);
    for (let t = steps - 1; t >= 0; t--) {
      for (let k = 0; k < H; k++) dh[k] = dhNext[(L - 1) * H + k]!;
      headBackward(lay, p, grad, hs, ((t + 1) * L + L - 1) * H, y, yOff + t * T, this.#yHat, this.#logvar, t, this.#dy, this.#dlv, dh);
      for (let l = L - 1; l >= 0; l--) {
        const lo = lay.layers[l]!;
        const gOff = (t * L + l) * G;
        const tcOff = (t * L + l) * H;
        const prevOff = (t * L + l) * H;
        // dh for a lower layer: the gradient sent down from the layer above plus its own recurrent one.
        if (l < L - 1) for (let k = 0; k < H; k++) dh[k] = dBelow[k]! + dhNext[l * H + k]!;
        for (let j = 0; j < H; j++) {
          const i = gates[gOff + j]!;
          const o = gates[gOff + H + j]!;
          const f = gates[gOff + 2 * H + j]!;
          const g = gates[gOff + 3 * H + j]!;
          const tc = tanhC[tcOff + j]!;
          const dhj = dh[j]!;
          const dc = dhj * o * (1 - tc * tc) + dcNext[l * H + j]!;
          daAll[gOff + j] = dc * g * i * (1 - i);
          daAll[gOff + H + j] = dhj * tc * o * (1 - o);
          daAll[gOff + 2 * H + j] = dc * cs[prevOff + j]! * f * (1 - f);
          daAll[gOff + 3 * H + j] = dc * i * (1 - g * g);
          dcNext[l * H + j] = dc * f;
        }
        // dh(t-1) = R^T da, and for the layer below dx = W^T da.
        for (let k = 0; k < H; k++) dhNext[l * H + k] = 0;
        matVecAdd(dhNext, l * H, rT, l * H * G, H, G, daAll, gOff);
        if (l > 0) {
          const Wo = lo.W;
          dBelow.fill(0);
          for (let g = 0; g < G; g++) {
            const a = daAll[gOff + g]!;
            const wr = Wo + g * H;
            for (let k = 0; k < H; k++) dBelow[k] += a * p[wr + k]!;
          }
        }
      }
    }
    // Weight gradients, summed over the window's steps in one pass per layer (register-blocked, no per-step stores).
    for (let l = 0; l < L; l++) {
      const lo = lay.layers[l]!;
      const daOff = l * G;
      const daStride = L * G;
      sumOuter(grad, lo.R, daAll, daOff, daStride, hs, l * H, L * H, G, H, steps);
      if (l === 0) sumOuter(grad, lo.W, daAll, daOff, daStride, x, xOff, F, G, F, steps);
      else sumOuter(grad, lo.W, daAll, daOff, daStride, hs, (L + l - 1) * H, L * H, G, H, steps);
      for (let g = 0; g < G; g++) {
        let s = 0;
        for (let t = 0; t < steps; t++) s += daAll[daOff + t * daStride + g]!;
        grad[lo.Wb + g] += s;
        grad[lo.Rb + g] += s;
      }
    }
    return loss;
  }
}

/**
 * tanh through one exp: V8's Math.tanh measured 18 ns against 11 ns for
 * Math.exp, and the LSTM takes 5H of them per step. Exact to ~1e-16
 * absolute, and saturates cleanly (exp overflows to Infinity, giving 1).
 */
export function tanh(x: number): number {
  return 1 - 2 / (Math.exp(2 * x) + 1);
}

/**
 * out[outOff + r] += M[mOff + r*cols ..] . v[vOff ..] for r < rows. Four rows
 * at a time share each load of v and keep four independent sums in registers:
 * measured 2x faster than one dot product per row in V8 (no SIMD in JS).
 */
export function matVecAdd(out: Float64Array, outOff: number, M: Float64Array, mOff: number, rows: number, cols: number, v: Float64Array, vOff: number): void {
  let r = 0;
  for (; r + 3 < rows; r += 4) {
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    const q0 = mOff + r * cols;
    const q1 = q0 + cols;
    const q2 = q1 + cols;
    const q3 = q2 + cols;
    for (let k = 0; k < cols; k++) {
      const vk = v[vOff + k]!;
      s0 += M[q0 + k]! * vk;
      s1 += M[q1 + k]! * vk;
      s2 += M[q2 + k]! * vk;
      s3 += M[q3 + k]! * vk;
    }
    out[outOff + r] += s0;
    out[outOff + r + 1] += s1;
    out[outOff + r + 2] += s2;
    out[outOff + r + 3] += s3;
  }
  for (; r < rows; r++) {
    let s = 0;
    const q = mOff + r * cols;
    for (let k = 0; k < cols; k++) s += M[q + k]! * v[vOff + k]!;
    out[outOff + r] += s;
  }
}

/**
 * grad[gOff + g*cols + k] += sum over t of da[t][g] * v[t][k]: the gradient of
 * a weight matrix over a whole window, four columns at a time in registers.
 */
export function sumOuter(grad: Float64Array, gOff: number, da: Float64Array, daOff: number, daStride: number, v: Float64Array, vOff: number, vStride: number, rows: number, cols: number, steps: number): void {
  for (let g = 0; g < rows; g++) {
    const row = gOff + g * cols;
    let k = 0;
    for (; k + 3 < cols; k += 4) {
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let t = 0; t < steps; t++) {
        const a = da[daOff + t * daStride + g]!;
        const vo = vOff + t * vStride + k;
        s0 += a * v[vo]!;
        s1 += a * v[vo + 1]!;
        s2 += a * v[vo + 2]!;
        s3 += a * v[vo + 3]!;
      }
      grad[row + k] += s0;
      grad[row + k + 1] += s1;
      grad[row + k + 2] += s2;
      grad[row + k + 3] += s3;
    }
    for (; k < cols; k++) {
      let s = 0;
      for (let t = 0; t < steps; t++) s += da[daOff + t * daStride + g]! * v[vOff + t * vStride + k]!;
      grad[row + k] += s;
    }
  }
}
