import type { LinearWeights } from './weights';

/**
 * One layer of the int8-static LSTM form. The gate pre-activations of a step
 * are two integer matrix products, of q(u) (the layer's input, quantized
 * with fixed per-feature scales) with Qx and of q(h) (its state, one fixed
 * scale) with Qh, each turned to float32 per column:
 * pre = (xColScale * (q(u) Qx) + bias) + hColScale * (q(h) Qh). The
 * activation scales are folded into the matrices' rows before each is
 * quantized per column; two products rather than one over [u; h] because
 * the input's range (±10 normalized) would otherwise set the columns'
 * scales and leave the recurrent weights a tenth of the int8 levels.
 * Gates and cell state stay float32; gate order is ONNX's (i, o, f, c).
 */
export interface StaticInt8Layer {
  /** Scale of each input feature (layer 0: one per feature of x; above: one, the layer below's state scale). */
  readonly inScale: Float32Array;
  /** Scale of this layer's state h. */
  readonly hScale: number;
  /** [inputs, 4H] int8, row-major. */
  readonly Qx: Int8Array;
  /** [H, 4H] int8, row-major. */
  readonly Qh: Int8Array;
  /** [4H] */
  readonly xColScale: Float32Array;
  /** [4H] */
  readonly hColScale: Float32Array;
  /** [4H] Wb + Rb */
  readonly bias: Float32Array;
}

export interface StaticInt8Lstm {
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly layers: readonly StaticInt8Layer[];
  readonly head: LinearWeights;
  readonly logvarHead?: LinearWeights;
}
