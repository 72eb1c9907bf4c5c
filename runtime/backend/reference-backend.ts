import { referenceForward, type LstmOutputs } from '../model/reference-lstm';
import type { LstmWeights } from '../model/weights';
import type { LstmBackend } from './backend';

/** The TypeScript reference LSTM as a backend: slow, exact, and free of native code. */
export class ReferenceBackend implements LstmBackend {
  readonly kind = 'reference' as const;
  readonly #weights: LstmWeights;

  constructor(weights: LstmWeights) {
    this.#weights = weights;
  }

  async run(x: Float32Array, h: Float32Array, c: Float32Array, seq: number, batch: number): Promise<LstmOutputs> {
    return referenceForward(this.#weights, x, h, c, seq, batch);
  }

  async release(): Promise<void> {}
}
