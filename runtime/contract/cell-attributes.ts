/** One activation of an ONNX LSTM/GRU with its alpha and beta (defaults filled in). */
export interface Activation {
  readonly name: string;
  readonly alpha: number;
  readonly beta: number;
}

/**
 * The attributes of one ONNX LSTM or GRU node that change what it computes.
 * Absent fields are the ONNX defaults: no clip, input_forget 0,
 * linear_before_reset 0, activations Sigmoid/Tanh/Tanh (GRU: Sigmoid/Tanh).
 */
export interface CellAttributes {
  readonly clip?: number;
  readonly inputForget?: boolean;
  /** GRU only. PyTorch exports 1. */
  readonly linearBeforeReset?: boolean;
  /** f, g, h for an LSTM; f, g for a GRU. */
  readonly activations?: readonly Activation[];
}

/** How many alphas and betas each activation takes, and their defaults (as ONNX Runtime reads them). */
export const ACTIVATION_PARAMS: Readonly<Record<string, { alpha?: number; beta?: number }>> = {
  Sigmoid: {},
  Tanh: {},
  Relu: {},
  Softsign: {},
  Softplus: {},
  Affine: { alpha: 1, beta: 0 },
  LeakyRelu: { alpha: 0.01 },
  ThresholdedRelu: { alpha: 1 },
  ScaledTanh: { alpha: 1, beta: 1 },
  HardSigmoid: { alpha: 0.2, beta: 0.5 },
  Elu: { alpha: 1 },
};

export type ActivationFn = (v: number) => number;

export function sigmoid(v: number): number {
  return 1 / (1 + Math.exp(-v));
}

/** The activation as a function, per the ONNX operator definitions. */
export function activationFn(a: Activation): ActivationFn {
  const { alpha, beta } = a;
  switch (a.name) {
    case 'Sigmoid':
      return sigmoid;
    case 'Tanh':
      return Math.tanh;
    case 'Relu':
      return (v) => Math.max(v, 0);
    case 'Affine':
      return (v) => alpha * v + beta;
    case 'LeakyRelu':
      return (v) => (v >= 0 ? v : alpha * v);
    case 'ThresholdedRelu':
      return (v) => (v > alpha ? v : 0);
    case 'ScaledTanh':
      return (v) => alpha * Math.tanh(beta * v);
    case 'HardSigmoid':
      return (v) => Math.min(1, Math.max(0, alpha * v + beta));
    case 'Elu':
      return (v) => (v >= 0 ? v : alpha * (Math.exp(v) - 1));
    case 'Softsign':
      return (v) => v / (1 + Math.abs(v));
    case 'Softplus':
      return (v) => Math.log(1 + Math.exp(v));
    default:
      throw new RangeError(`unknown activation ${a.name}`);
  }
}

/** f, g(, h) of a cell as functions, the defaults where none are given. */
export function cellActivations(a: CellAttributes | undefined, count: 2 | 3): ActivationFn[] {
  if (!a?.activations) return count === 3 ? [sigmoid, Math.tanh, Math.tanh] : [sigmoid, Math.tanh];
  return a.activations.map(activationFn);
}
