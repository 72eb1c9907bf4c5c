import { mulberry32, type LstmLayerWeights, type LstmWeights } from '../contract/weights';
import type { CellKind } from '../contract/cell';

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
  /**
   * Without a variance head: > 0 trains the mean head with the Huber loss of this delta (normalized units:
   * squared error within it, linear beyond, so a spike pulls the forecast less than a squared error would);
   * 0 or absent: squared error.
   */
  readonly huberDelta?: number;
  /** Default 'lstm'. A GRU is trained with linear_before_reset = 1, as PyTorch's nn.GRU computes. */
  readonly cell?: CellKind;
  /** A residual head (LstmWeights.residual): output o adds input feature residual[o]; absent: none. */
  readonly residual?: readonly number[];
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
 * The blocks use ONNX's layout (LSTM gates i, o, f, c; GRU z, r, h), so export is a copy.
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
  /** Gates per cell: 4 (LSTM) or 3 (GRU). */
  readonly gates: 3 | 4;

  constructor(shape: NetShape) {
    this.shape = shape;
    const H = shape.hiddenSize;
    const G = shape.cell === 'gru' ? 3 : 4;
    this.gates = G;
    const T = shape.outputs;
    let off = 0;
    const layers: LayerOffsets[] = [];
    for (let l = 0; l < shape.layers; l++) {
      const inSize = l === 0 ? shape.inputSize : H;
      const W = off;
      const R = W + G * H * inSize;
      const Wb = R + G * H * H;
      const Rb = Wb + G * H;
      off = Rb + G * H;
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
   * through long windows (for a GRU, the update gate's bias at +1, which keeps
   * h the same way). The log-variance head starts at zero (unit variance).
   */
  init(seed: number): Float64Array {
    const p = new Float64Array(this.size);
    const rand = mulberry32(seed);
    const H = this.shape.hiddenSize;
    const scale = 1 / Math.sqrt(H);
    const end = this.shape.logvar ? this.logvarW : this.size;
    for (let i = 0; i < end; i++) p[i] = (rand() * 2 - 1) * scale;
    // The LSTM's forget gate is gate 2 (i, o, f, c); the GRU's update gate is gate 0 (z, r, h).
    const keep = this.gates === 4 ? 2 * H : 0;
    for (const l of this.layers) for (let j = 0; j < H; j++) p[l.Wb + keep + j] = 1 + p[l.Wb + keep + j]! * 0.1;
    return p;
  }

  /** The flat parameters of a model's weights (the inverse of toWeights): where fine-tuning starts. */
  fromWeights(w: LstmWeights): Float64Array {
    const { inputSize, hiddenSize: H, outputs: T } = this.shape;
    if (w.inputSize !== inputSize || w.hiddenSize !== H || w.layers.length !== this.layers.length || w.head.b.length !== T || (w.logvarHead !== undefined) !== this.shape.logvar) {
      throw new RangeError(`weights of F=${w.inputSize} H=${w.hiddenSize} L=${w.layers.length} T=${w.head.b.length} do not fit a layout of F=${inputSize} H=${H} L=${this.layers.length} T=${T}`);
    }
    if (String(w.residual ?? 'none') !== String(this.shape.residual ?? 'none')) {
      throw new RangeError(`weights with residual head ${String(w.residual ?? 'none')} do not fit a layout with residual head ${String(this.shape.residual ?? 'none')}`);
    }
    const p = new Float64Array(this.size);
    this.layers.forEach((l, i) => {
      const lw = w.layers[i]!;
      p.set(lw.W, l.W);
      p.set(lw.R, l.R);
      p.set(lw.Wb, l.Wb);
      p.set(lw.Rb, l.Rb);
    });
    p.set(w.head.W, this.headW);
    p.set(w.head.b, this.headB);
    if (w.logvarHead) {
      p.set(w.logvarHead.W, this.logvarW);
      p.set(w.logvarHead.b, this.logvarB);
    }
    return p;
  }

  /** float32 weights in the runtime's layout, for export and the reference forward pass. */
  toWeights(p: Float64Array): LstmWeights {
    const { inputSize, hiddenSize: H, outputs: T } = this.shape;
    const slice = (from: number, n: number): Float32Array => Float32Array.from(p.subarray(from, from + n));
    const G = this.gates;
    const gru = G === 3;
    const layers: LstmLayerWeights[] = this.layers.map((l) => ({
      W: slice(l.W, G * H * l.inSize),
      R: slice(l.R, G * H * H),
      Wb: slice(l.Wb, G * H),
      Rb: slice(l.Rb, G * H),
      ...(gru ? { attributes: { linearBeforeReset: true } } : {}),
    }));
    const head = { W: slice(this.headW, T * H), b: slice(this.headB, T) };
    const base: LstmWeights = gru ? { cell: 'gru', inputSize, hiddenSize: H, layers, head } : { inputSize, hiddenSize: H, layers, head };
    const w: LstmWeights = this.shape.residual ? { ...base, residual: [...this.shape.residual] } : base;
    return this.shape.logvar ? { ...w, logvarHead: { W: slice(this.logvarW, T * H), b: slice(this.logvarB, T) } } : w;
  }
}
