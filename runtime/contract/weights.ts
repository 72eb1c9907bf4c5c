import type { CellAttributes } from './cell-attributes';
import type { CellKind } from './cell';

/**
 * Recurrent weights in ONNX's layout. LSTM: 4 gates stacked in the order
 * input, output, forget, cell (PyTorch uses input, forget, cell, output; the
 * importer and trainer reorder). GRU: 3 gates, update, reset, hidden
 * (PyTorch: reset, update, new).
 */
export interface LstmLayerWeights {
  /** [G*H, inputSize], G = 4 (LSTM) or 3 (GRU) */
  readonly W: Float32Array;
  /** [G*H, H] */
  readonly R: Float32Array;
  /** [G*H] input bias */
  readonly Wb: Float32Array;
  /** [G*H] recurrent bias */
  readonly Rb: Float32Array;
  /** LSTM peephole weights [3H] (input, output, forget), when the graph has them. */
  readonly P?: Float32Array;
  /** clip, input_forget, linear_before_reset, activations; absent: the ONNX defaults. */
  readonly attributes?: CellAttributes;
}

/** A linear head `y = W h + b`. */
export interface LinearWeights {
  /** [outputs, H] */
  readonly W: Float32Array;
  /** [outputs] */
  readonly b: Float32Array;
}

export interface LstmWeights {
  /** Default 'lstm'. */
  readonly cell?: CellKind;
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly layers: readonly LstmLayerWeights[];
  readonly head: LinearWeights;
  /** Optional log-variance head, same shape as `head`. */
  readonly logvarHead?: LinearWeights;
  /**
   * A residual head: output o adds the step's input feature `residual[o]` to the head's value,
   * so the head predicts the change from the current (normalized) reading. Absent: y = head(h).
   */
  readonly residual?: readonly number[];
}

export function outputSize(w: LstmWeights): number {
  return w.head.b.length;
}

/** Gates per cell: 4 for an LSTM, 3 for a GRU. */
export function gateCount(w: Pick<LstmWeights, 'cell'>): 3 | 4 {
  return w.cell === 'gru' ? 3 : 4;
}

/** Deterministic pseudo-random weights (mulberry32), for tests and benchmarks. */
export function randomWeights(inputSize: number, hiddenSize: number, outputs: number, layers: number, seed = 1, withLogvar = false, cell: CellKind = 'lstm'): LstmWeights {
  const rand = mulberry32(seed);
  const scale = 1 / Math.sqrt(hiddenSize);
  const fill = (n: number): Float32Array => {
    const a = new Float32Array(n);
    for (let i = 0; i < n; i++) a[i] = (rand() * 2 - 1) * scale;
    return a;
  };
  const ls: LstmLayerWeights[] = [];
  for (let l = 0; l < layers; l++) {
    const inp = l === 0 ? inputSize : hiddenSize;
    const G = gateCount({ cell });
    ls.push({ W: fill(G * hiddenSize * inp), R: fill(G * hiddenSize * hiddenSize), Wb: fill(G * hiddenSize), Rb: fill(G * hiddenSize) });
  }
  const head = { W: fill(outputs * hiddenSize), b: fill(outputs) };
  const w: LstmWeights = cell === 'gru' ? { cell, inputSize, hiddenSize, layers: ls, head } : { inputSize, hiddenSize, layers: ls, head };
  return withLogvar ? { ...w, logvarHead: { W: fill(outputs * hiddenSize), b: fill(outputs) } } : w;
}

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
