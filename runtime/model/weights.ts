/**
 * LSTM weights in ONNX's layout: gates stacked in the order input, output,
 * forget, cell (PyTorch uses input, forget, cell, output; the importer and
 * trainer reorder).
 */
export interface LstmLayerWeights {
  /** [4H, inputSize] */
  readonly W: Float32Array;
  /** [4H, H] */
  readonly R: Float32Array;
  /** [4H] input bias */
  readonly Wb: Float32Array;
  /** [4H] recurrent bias */
  readonly Rb: Float32Array;
}

/** A linear head `y = W h + b`. */
export interface LinearWeights {
  /** [outputs, H] */
  readonly W: Float32Array;
  /** [outputs] */
  readonly b: Float32Array;
}

export interface LstmWeights {
  readonly inputSize: number;
  readonly hiddenSize: number;
  readonly layers: readonly LstmLayerWeights[];
  readonly head: LinearWeights;
  /** Optional log-variance head, same shape as `head`. */
  readonly logvarHead?: LinearWeights;
}

export function outputSize(w: LstmWeights): number {
  return w.head.b.length;
}

/** Deterministic pseudo-random weights (mulberry32), for tests and benchmarks. */
export function randomWeights(inputSize: number, hiddenSize: number, outputs: number, layers: number, seed = 1, withLogvar = false): LstmWeights {
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
    ls.push({ W: fill(4 * hiddenSize * inp), R: fill(4 * hiddenSize * hiddenSize), Wb: fill(4 * hiddenSize), Rb: fill(4 * hiddenSize) });
  }
  const head = { W: fill(outputs * hiddenSize), b: fill(outputs) };
  const w: LstmWeights = { inputSize, hiddenSize, layers: ls, head };
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
