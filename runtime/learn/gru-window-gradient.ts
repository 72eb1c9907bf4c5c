import type { ParamLayout } from './param-layout';
import { headBackward, headForward, matVecAdd, squaredErrorOf, sumOuter, tanh, type WindowNet } from './window-gradient';

/**
 * Loss and gradient of one window for a GRU (ONNX gates z, r, h with
 * linear_before_reset = 1, which is what PyTorch's nn.GRU computes and
 * exports): the GRU counterpart of WindowGradient, same loss, same buffers
 * allocated once, same kernels.
 *
 *   z = sigmoid(Wz x + Rz h + bz)        r = sigmoid(Wr x + Rr h + br)
 *   u = Rh h + Rbh                        n = tanh(Wh x + Wbh + r * u)
 *   h' = (1 - z) * n + z * h
 */
export class GruWindowGradient implements WindowNet {
  readonly layout: ParamLayout;
  readonly maxSteps: number;
  // Per (step, layer): z, r, n and u (4H).
  readonly #act: Float64Array;
  // Per (step + 1, layer): h; slot 0 is the zero initial state.
  readonly #h: Float64Array;
  readonly #yHat: Float64Array;
  readonly #logvar: Float64Array;
  readonly #rT: Float64Array;
  // Per (step, layer): gradients at the input-side pre-activations [z, r, n] and at the recurrent ones [z, r, u].
  readonly #daW: Float64Array;
  readonly #daR: Float64Array;
  readonly #dhNext: Float64Array;
  readonly #dh: Float64Array;
  readonly #dBelow: Float64Array;
  readonly #dy: Float64Array;
  readonly #dlv: Float64Array;
  readonly #pre: Float64Array;

  constructor(layout: ParamLayout, maxSteps: number) {
    if (layout.gates !== 3) throw new RangeError('GruWindowGradient needs a GRU parameter layout');
    this.layout = layout;
    this.maxSteps = maxSteps;
    const { hiddenSize: H, layers: L, outputs: T } = layout.shape;
    this.#act = new Float64Array(maxSteps * L * 4 * H);
    this.#h = new Float64Array((maxSteps + 1) * L * H);
    this.#yHat = new Float64Array(maxSteps * T);
    this.#logvar = new Float64Array(maxSteps * T);
    this.#rT = new Float64Array(L * 3 * H * H);
    this.#daW = new Float64Array(maxSteps * L * 3 * H);
    this.#daR = new Float64Array(maxSteps * L * 3 * H);
    this.#dhNext = new Float64Array(L * H);
    this.#dh = new Float64Array(H);
    this.#dBelow = new Float64Array(H);
    this.#dy = new Float64Array(T);
    this.#dlv = new Float64Array(T);
    this.#pre = new Float64Array(6 * H);
  }

  forward(p: Float64Array, x: Float64Array, xOff: number, y: Float64Array, yOff: number, steps: number): number {
    const lay = this.layout;
    const { inputSize: F, hiddenSize: H, layers: L } = lay.shape;
    const G = 3 * H;
    const act = this.#act;
    const hs = this.#h;
    const pre = this.#pre; // [0, 3H): W x + Wb; [3H, 6H): R h + Rb
    hs.fill(0, 0, L * H);
    let loss = 0;
    for (let t = 0; t < steps; t++) {
      for (let l = 0; l < L; l++) {
        const lo = lay.layers[l]!;
        const inArr = l === 0 ? x : hs;
        const inOff = l === 0 ? xOff + t * F : ((t + 1) * L + l - 1) * H;
        const prevOff = (t * L + l) * H;
        for (let g = 0; g < G; g++) {
          pre[g] = p[lo.Wb + g]!;
          pre[G + g] = p[lo.Rb + g]!;
        }
        matVecAdd(pre, 0, p, lo.W, G, lo.inSize, inArr, inOff);
        matVecAdd(pre, G, p, lo.R, G, H, hs, prevOff);
        const aOff = (t * L + l) * 4 * H;
        const outOff = ((t + 1) * L + l) * H;
        for (let j = 0; j < H; j++) {
          const z = 1 / (1 + Math.exp(-(pre[j]! + pre[G + j]!)));
          const r = 1 / (1 + Math.exp(-(pre[H + j]! + pre[G + H + j]!)));
          const u = pre[G + 2 * H + j]!;
          const n = tanh(pre[2 * H + j]! + r * u);
          act[aOff + j] = z;
          act[aOff + H + j] = r;
          act[aOff + 2 * H + j] = n;
          act[aOff + 3 * H + j] = u;
          hs[outOff + j] = (1 - z) * n + z * hs[prevOff + j]!;
        }
      }
      loss += headForward(lay, p, hs, ((t + 1) * L + L - 1) * H, x, xOff + t * F, y, yOff + t * lay.shape.outputs, this.#yHat, this.#logvar, t);
    }
    return loss;
  }

  squaredError(y: Float64Array, yOff: number, steps: number): number {
    return squaredErrorOf(this.#yHat, y, yOff, steps * this.layout.shape.outputs);
  }

  lossAndGrad(p: Float64Array, grad: Float64Array, x: Float64Array, xOff: number, y: Float64Array, yOff: number, steps: number): number {
    const loss = this.forward(p, x, xOff, y, yOff, steps);
    const lay = this.layout;
    const { inputSize: F, hiddenSize: H, layers: L } = lay.shape;
    const G = 3 * H;
    const act = this.#act;
    const hs = this.#h;
    const daW = this.#daW;
    const daR = this.#daR;
    const rT = this.#rT;
    const dh = this.#dh;
    const dBelow = this.#dBelow;
    const dhNext = this.#dhNext;
    for (let l = 0; l < L; l++) {
      const Ro = lay.layers[l]!.R;
      for (let g = 0; g < G; g++) for (let k = 0; k < H; k++) rT[(l * H + k) * G + g] = p[Ro + g * H + k]!;
    }
    dhNext.fill(0);
    for (let t = steps - 1; t >= 0; t--) {
      for (let k = 0; k < H; k++) dh[k] = dhNext[(L - 1) * H + k]!;
      headBackward(lay, p, grad, hs, ((t + 1) * L + L - 1) * H, y, yOff + t * lay.shape.outputs, this.#yHat, this.#logvar, t, this.#dy, this.#dlv, dh);
      for (let l = L - 1; l >= 0; l--) {
        const lo = lay.layers[l]!;
        const aOff = (t * L + l) * 4 * H;
        const dOff = (t * L + l) * G;
        const prevOff = (t * L + l) * H;
        if (l < L - 1) for (let k = 0; k < H; k++) dh[k] = dBelow[k]! + dhNext[l * H + k]!;
        for (let j = 0; j < H; j++) {
          const z = act[aOff + j]!;
          const r = act[aOff + H + j]!;
          const n = act[aOff + 2 * H + j]!;
          const u = act[aOff + 3 * H + j]!;
          const d = dh[j]!;
          const dan = d * (1 - z) * (1 - n * n);
          const daz = d * (hs[prevOff + j]! - n) * z * (1 - z);
          const dar = dan * u * r * (1 - r);
          daW[dOff + j] = daz;
          daW[dOff + H + j] = dar;
          daW[dOff + 2 * H + j] = dan;
          daR[dOff + j] = daz;
          daR[dOff + H + j] = dar;
          daR[dOff + 2 * H + j] = dan * r;
          dhNext[l * H + j] = d * z;
        }
        // dh(t-1) += R^T [daz, dar, du]; for the layer below dx = W^T [daz, dar, dan].
        matVecAdd(dhNext, l * H, rT, l * H * G, H, G, daR, dOff);
        if (l > 0) {
          dBelow.fill(0);
          for (let g = 0; g < G; g++) {
            const a = daW[dOff + g]!;
            const wr = lo.W + g * H;
            for (let k = 0; k < H; k++) dBelow[k] += a * p[wr + k]!;
          }
        }
      }
    }
    for (let l = 0; l < L; l++) {
      const lo = lay.layers[l]!;
      const off = l * G;
      const stride = L * G;
      sumOuter(grad, lo.R, daR, off, stride, hs, l * H, L * H, G, H, steps);
      if (l === 0) sumOuter(grad, lo.W, daW, off, stride, x, xOff, F, G, F, steps);
      else sumOuter(grad, lo.W, daW, off, stride, hs, (L + l - 1) * H, L * H, G, H, steps);
      for (let g = 0; g < G; g++) {
        let sw = 0;
        let sr = 0;
        for (let t = 0; t < steps; t++) {
          sw += daW[off + t * stride + g]!;
          sr += daR[off + t * stride + g]!;
        }
        grad[lo.Wb + g] += sw;
        grad[lo.Rb + g] += sr;
      }
    }
    return loss;
  }
}
