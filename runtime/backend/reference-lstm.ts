import { cellActivations, type ActivationFn } from '../contract/cell-attributes';
import type { LstmOutputs } from '../contract/outputs';
import type { LinearWeights, LstmLayerWeights, LstmWeights } from '../contract/weights';

export { sigmoid } from '../contract/cell-attributes';

/**
 * The LSTM (or GRU) forward pass written out plainly, with float64
 * accumulation, following the ONNX operator definitions (peepholes,
 * input_forget, clip, activations, linear_before_reset): the oracle the ONNX
 * backends are tested against. Not meant to be fast. For a GRU, `c0` is
 * ignored and `cn` comes back empty.
 */
export function referenceForward(w: LstmWeights, x: Float32Array, h0: Float32Array, c0: Float32Array, seq: number, batch: number): LstmOutputs {
  const H = w.hiddenSize;
  const L = w.layers.length;
  const T = w.head.b.length;
  const gru = w.cell === 'gru';
  const hn = Float32Array.from(h0);
  const cn = gru ? new Float32Array(0) : Float32Array.from(c0);
  const y = new Float32Array(seq * batch * T);
  const ylogvar = w.logvarHead ? new Float32Array(seq * batch * T) : undefined;
  const cells = w.layers.map((lw) => (gru ? gruLayer(lw, H) : lstmLayer(lw, H)));
  for (let t = 0; t < seq; t++) {
    for (let b = 0; b < batch; b++) {
      const input = x.subarray((t * batch + b) * w.inputSize, (t * batch + b + 1) * w.inputSize);
      let layerIn: Float32Array = input.slice();
      for (let l = 0; l < L; l++) layerIn = cells[l]!(layerIn, hn, cn, (l * batch + b) * H);
      linear(w.head, layerIn, y, (t * batch + b) * T);
      if (w.residual) for (let o = 0; o < T; o++) y[(t * batch + b) * T + o] += input[w.residual[o]!]!;
      if (ylogvar && w.logvarHead) linear(w.logvarHead, layerIn, ylogvar, (t * batch + b) * T);
    }
  }
  return ylogvar ? { y, hn, cn, ylogvar } : { y, hn, cn };
}

/** One layer's step for one device: reads and updates h (and c) at `off`, returns the layer's output. */
type LayerStep = (input: Float32Array, h: Float32Array, c: Float32Array, off: number) => Float32Array;

function clipper(clip: number | undefined): (v: number) => number {
  return clip === undefined ? (v) => v : (v) => Math.min(clip, Math.max(-clip, v));
}

/** W x + R h + Wb + Rb for gates [from, to), in float64. */
function affine(lw: LstmLayerWeights, input: Float32Array, h: Float32Array, off: number, H: number, gates: Float64Array, withR: boolean): void {
  const inSize = input.length;
  for (let g = 0; g < gates.length; g++) {
    let s = lw.Wb[g]!;
    for (let k = 0; k < inSize; k++) s += lw.W[g * inSize + k]! * input[k]!;
    if (withR) {
      s += lw.Rb[g]!;
      for (let k = 0; k < H; k++) s += lw.R[g * H + k]! * h[off + k]!;
    }
    gates[g] = s;
  }
}

function lstmLayer(lw: LstmLayerWeights, H: number): LayerStep {
  const [f, g, hAct] = cellActivations(lw.attributes, 3) as [ActivationFn, ActivationFn, ActivationFn];
  const clip = clipper(lw.attributes?.clip);
  const coupled = lw.attributes?.inputForget === true;
  const P = lw.P;
  const gates = new Float64Array(4 * H);
  return (input, h, c, off) => {
    affine(lw, input, h, off, H, gates, true);
    const out = new Float32Array(H);
    for (let j = 0; j < H; j++) {
      const cPrev = c[off + j]!;
      const i = f(clip(gates[j]! + (P ? P[j]! * cPrev : 0)));
      const fg = coupled ? 1 - i : f(clip(gates[2 * H + j]! + (P ? P[2 * H + j]! * cPrev : 0)));
      const cand = g(clip(gates[3 * H + j]!));
      const cNew = fg * cPrev + i * cand;
      const o = f(clip(gates[H + j]! + (P ? P[H + j]! * cNew : 0)));
      c[off + j] = cNew;
      out[j] = Math.fround(o * hAct(cNew));
    }
    h.set(out, off);
    return out;
  };
}

function gruLayer(lw: LstmLayerWeights, H: number): LayerStep {
  const [f, g] = cellActivations(lw.attributes, 2) as [ActivationFn, ActivationFn];
  const clip = clipper(lw.attributes?.clip);
  const lbr = lw.attributes?.linearBeforeReset === true;
  const xw = new Float64Array(3 * H);
  const rh = new Float64Array(3 * H);
  const z = new Float64Array(H);
  const r = new Float64Array(H);
  return (input, h, _c, off) => {
    affine(lw, input, h, off, H, xw, false);
    // R h + Rb for the update and reset gates (and, with linear_before_reset, the hidden gate).
    for (let k = 0; k < 3 * H; k++) {
      if (k >= 2 * H && !lbr) break;
      let s = lw.Rb[k]!;
      for (let m = 0; m < H; m++) s += lw.R[k * H + m]! * h[off + m]!;
      rh[k] = s;
    }
    for (let j = 0; j < H; j++) {
      z[j] = f(clip(xw[j]! + rh[j]!));
      r[j] = f(clip(xw[H + j]! + rh[H + j]!));
    }
    const out = new Float32Array(H);
    for (let j = 0; j < H; j++) {
      let pre: number;
      if (lbr) {
        pre = xw[2 * H + j]! + r[j]! * rh[2 * H + j]!;
      } else {
        let s = lw.Rb[2 * H + j]!;
        for (let m = 0; m < H; m++) s += lw.R[(2 * H + j) * H + m]! * r[m]! * h[off + m]!;
        pre = xw[2 * H + j]! + s;
      }
      const cand = g(clip(pre));
      out[j] = Math.fround((1 - z[j]!) * cand + z[j]! * h[off + j]!);
    }
    h.set(out, off);
    return out;
  };
}

export function linear(p: LinearWeights, h: Float32Array, out: Float32Array, offset: number): void {
  const H = h.length;
  for (let o = 0; o < p.b.length; o++) {
    let s = p.b[o]!;
    for (let k = 0; k < H; k++) s += p.W[o * H + k]! * h[k]!;
    out[offset + o] = s;
  }
}
