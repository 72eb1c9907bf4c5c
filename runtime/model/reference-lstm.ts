import type { LinearWeights, LstmWeights } from './weights';

export interface LstmOutputs {
  /** [seq, batch, T] */
  y: Float32Array;
  /** [L, batch, H] */
  hn: Float32Array;
  /** [L, batch, H] */
  cn: Float32Array;
  /** [seq, batch, T], when the model has a log-variance head. */
  ylogvar?: Float32Array;
}

/**
 * The LSTM forward pass written out plainly, with float64 accumulation: the
 * oracle the ONNX backends are tested against. Not meant to be fast.
 */
export function referenceForward(w: LstmWeights, x: Float32Array, h0: Float32Array, c0: Float32Array, seq: number, batch: number): LstmOutputs {
  const H = w.hiddenSize;
  const L = w.layers.length;
  const T = w.head.b.length;
  const hn = Float32Array.from(h0);
  const cn = Float32Array.from(c0);
  const y = new Float32Array(seq * batch * T);
  const ylogvar = w.logvarHead ? new Float32Array(seq * batch * T) : undefined;
  const gates = new Float64Array(4 * H);
  let layerIn = new Float32Array(w.inputSize);
  for (let t = 0; t < seq; t++) {
    for (let b = 0; b < batch; b++) {
      layerIn = x.slice((t * batch + b) * w.inputSize, (t * batch + b + 1) * w.inputSize);
      for (let l = 0; l < L; l++) {
        const lw = w.layers[l]!;
        const inSize = layerIn.length;
        const off = (l * batch + b) * H;
        for (let g = 0; g < 4 * H; g++) {
          let s = lw.Wb[g]! + lw.Rb[g]!;
          for (let k = 0; k < inSize; k++) s += lw.W[g * inSize + k]! * layerIn[k]!;
          for (let k = 0; k < H; k++) s += lw.R[g * H + k]! * hn[off + k]!;
          gates[g] = s;
        }
        const out = new Float32Array(H);
        for (let j = 0; j < H; j++) {
          const i = sigmoid(gates[j]!);
          const o = sigmoid(gates[H + j]!);
          const f = sigmoid(gates[2 * H + j]!);
          const g = Math.tanh(gates[3 * H + j]!);
          const c = f * cn[off + j]! + i * g;
          cn[off + j] = c;
          hn[off + j] = o * Math.tanh(c);
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

function linear(p: LinearWeights, h: Float32Array, out: Float32Array, offset: number): void {
  const H = h.length;
  for (let o = 0; o < p.b.length; o++) {
    let s = p.b[o]!;
    for (let k = 0; k < H; k++) s += p.W[o * H + k]! * h[k]!;
    out[offset + o] = s;
  }
}

export function sigmoid(v: number): number {
  return 1 / (1 + Math.exp(-v));
}
