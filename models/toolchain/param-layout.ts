import { mulberry32, type LstmLayerWeights, type LstmWeights } from '../../runtime/model/weights';

/** The size of the network being trained. */
export interface NetShape {
  /** F: input features per step. */
  readonly inputSize: number;
  /** H: hidden units per layer. */
  readonly hiddenSize: number;
  /** L: stacked LSTM layers. */
  readonly layers: number;
  /** T: predicted features (the head's outputs). */
  readonly outputs: number;
  /** Whether a log-variance head is trained next to the mean head. */
  readonly logvar: boolean;
}

interface LayerOffsets {
  readonly inSize: number;
  readonly W: number;
  readonly R: number;
  readonly Wb: number;
  readonly Rb: number;
}

/**
 * Where each weight lives in one flat parameter vector. One vector (and one of
 * the same layout for gradients and Adam's moments) keeps the optimizer, the
 * gradient clipping and the finite-difference check to simple loops.
 * The blocks use ONNX's layout (gates i, o, f, c), so export is a copy.
 */
export class ParamLayout {
  readonly shape: NetShape;
  readonly layers: readonly LayerOffsets[];
  readonly headW: number;
  readonly headB: number;
  /** -1 when there is no log-variance head. */
  readonly logvarW: number;
  readonly logvarB: number;
  readonly size: number;

  constructor(shape: NetShape) {
    this.shape = shape;
    const H = shape.hiddenSize;
    const T = shape.outputs;
    let off = 0;
    const layers: LayerOffsets[] = [];
    for (let l = 0; l < shape.layers; l++) {
      const inSize = l === 0 ? shape.inputSize : H;
      const W = off;
      const R = W + 4 * H * inSize;
      const Wb = R + 4 * H * H;
      const Rb = Wb + 4 * H;
      off = Rb + 4 * H;
      layers.push({ inSize, W, R, Wb, Rb });
    }
    this.layers = layers;
    this.headW = off;
    this.headB = off + T * H;
    off = this.headB + T;
    if (shape.logvar) {
      this.logvarW = off;
      this.logvarB = off + T * H;
      off = this.logvarB + T;
    } else {
      this.logvarW = -1;
      this.logvarB = -1;
    }
    this.size = off;
  }

  /**
   * PyTorch's initialization (uniform in ±1/sqrt(H)) with the forget gate's
   * bias at +1, so the cell remembers by default and early gradients flow
   * through long windows. The log-variance head starts at zero (unit variance).
   */
  init(seed: number): Float64Array {
    const p = new Float64Array(this.size);
    const rand = mulberry32(seed);
    const H = this.shape.hiddenSize;
    const scale = 1 / Math.sqrt(H);
    const end = this.shape.logvar ? this.logvarW : this.size;
    for (let i = 0; i < end; i++) p[i] = (rand() * 2 - 1) * scale;
    for (const l of this.layers) for (let j = 0; j < H; j++) p[l.Wb + 2 * H + j] = 1 + p[l.Wb + 2 * H + j]! * 0.1;
    return p;
  }

  /** float32 weights in the runtime's layout, for export and the reference forward pass. */
  toWeights(p: Float64Array): LstmWeights {
    const { inputSize, hiddenSize: H, outputs: T } = this.shape;
    const slice = (from: number, n: number): Float32Array => Float32Array.from(p.subarray(from, from + n));
    const layers: LstmLayerWeights[] = this.layers.map((l) => ({
      W: slice(l.W, 4 * H * l.inSize),
      R: slice(l.R, 4 * H * H),
      Wb: slice(l.Wb, 4 * H),
      Rb: slice(l.Rb, 4 * H),
    }));
    const head = { W: slice(this.headW, T * H), b: slice(this.headB, T) };
    const w: LstmWeights = { inputSize, hiddenSize: H, layers, head };
    return this.shape.logvar ? { ...w, logvarHead: { W: slice(this.logvarW, T * H), b: slice(this.logvarB, T) } } : w;
  }
}
