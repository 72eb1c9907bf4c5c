import type { StaticInt8Lstm } from '../contract/int8-static';
import type { LstmOutputs } from '../contract/outputs';
import type { LstmWeights } from '../contract/weights';
import { referenceInt8Forward } from './reference-int8';
import { referenceForward } from './reference-lstm';
import type { LstmBackend } from './backend';

/** What the reference computes: float weights, or the int8-static form with its quantized products emulated. */
export type ReferenceWeights = { kind: 'float'; weights: LstmWeights } | { kind: 'int8-static'; weights: StaticInt8Lstm };

/** The TypeScript reference LSTM as a backend: slow, exact, and free of native code. */
export class ReferenceBackend implements LstmBackend {
  readonly kind = 'reference' as const;
  readonly #weights: ReferenceWeights;

  constructor(weights: LstmWeights | ReferenceWeights) {
    this.#weights = 'kind' in weights ? weights : { kind: 'float', weights };
  }

  async run(x: Float32Array, h: Float32Array, c: Float32Array, seq: number, batch: number): Promise<LstmOutputs> {
    const w = this.#weights;
    return w.kind === 'float' ? referenceForward(w.weights, x, h, c, seq, batch) : referenceInt8Forward(w.weights, x, h, c, seq, batch);
  }

  async release(): Promise<void> {}
}
