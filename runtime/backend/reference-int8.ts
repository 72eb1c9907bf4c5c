import type { StaticInt8Layer, StaticInt8Lstm } from '../contract/int8-static';
import type { LstmOutputs } from '../contract/outputs';
import { linear, sigmoid } from './reference-lstm';

/** ONNX QuantizeLinear to uint8 with zero point 128, as the int8 value: round half to even of the float32 quotient, saturated. */
export function quantizeActivation(v: number, scale: number): number {
  const q = Math.fround(v / scale);
  const f = Math.floor(q);
  const d = q - f;
  const r = d < 0.5 ? f : d > 0.5 ? f + 1 : f % 2 === 0 ? f : f + 1;
  return Math.max(-128, Math.min(127, r));
}

/**
 * The int8-static LSTM written out plainly: activations quantized as
 * QuantizeLinear does, each gate pre-activation as the exact integer sums
 * times their column scales (plus the bias) in float32, added, as the
 * graph's MatMulIntegerToFloat and Add compute them; gates and cell state
 * in float64. Agrees with ONNX Runtime up to
 * the rounding of its float32 Sigmoid and Tanh.
 */
export function referenceInt8Forward(w: StaticInt8Lstm, x: Float32Array, h0: Float32Array, c0: Float32Array, seq: number, batch: number): LstmOutputs {
  const H = w.hiddenSize;
  const L = w.layers.length;
  const T = w.head.b.length;
  const hn = Float32Array.from(h0);
  const cn = Float32Array.from(c0);
  const y = new Float32Array(seq * batch * T);
  const ylogvar = w.logvarHead ? new Float32Array(seq * batch * T) : undefined;
  const pre = new Float64Array(4 * H);
  for (let t = 0; t < seq; t++) {
    for (let b = 0; b < batch; b++) {
      let layerIn: Float32Array = x.slice((t * batch + b) * w.inputSize, (t * batch + b + 1) * w.inputSize);
      for (let l = 0; l < L; l++) {
        const lw = w.layers[l]!;
        const off = (l * batch + b) * H;
        preActivations(lw, layerIn, hn.subarray(off, off + H), pre);
        const out = new Float32Array(H);
        for (let j = 0; j < H; j++) {
          const c = sigmoid(pre[2 * H + j]!) * cn[off + j]! + sigmoid(pre[j]!) * Math.tanh(pre[3 * H + j]!);
          cn[off + j] = c;
          hn[off + j] = sigmoid(pre[H + j]!) * Math.tanh(cn[off + j]!);
          out[j] = hn[off + j]!;
        }
        layerIn = out;
      }
      linear(w.head, layerIn, y, (t * batch + b) * T);
      if (ylogvar && w.logvarHead) linear(w.logvarHead, layerIn, ylogvar, (t * batch + b) * T);
    }
  }
  return ylogvar ? { y, hn, cn, ylogvar } : { y, hn, cn };
}

function preActivations(lw: StaticInt8Layer, u: Float32Array, h: Float32Array, pre: Float64Array): void {
  const G = pre.length;
  const qu = Int32Array.from(u, (v, k) => quantizeActivation(v, lw.inScale[lw.inScale.length === 1 ? 0 : k]!));
  const qh = Int32Array.from(h, (v) => quantizeActivation(v, lw.hScale));
  for (let j = 0; j < G; j++) {
    let accX = 0;
    for (let k = 0; k < qu.length; k++) accX += qu[k]! * lw.Qx[k * G + j]!;
    let accH = 0;
    for (let k = 0; k < qh.length; k++) accH += qh[k]! * lw.Qh[k * G + j]!;
    const px = Math.fround(Math.fround(accX * lw.xColScale[j]!) + lw.bias[j]!);
    pre[j] = Math.fround(px + Math.fround(accH * lw.hColScale[j]!));
  }
}
