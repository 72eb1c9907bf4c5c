import type { LstmOutputs } from '../model/reference-lstm';

export type BackendKind = 'native' | 'wasm' | 'reference';

export const BACKEND_KINDS: readonly BackendKind[] = ['native', 'wasm', 'reference'];

/**
 * One LSTM computation for a batch of devices, behind which sits ONNX Runtime
 * (native or wasm) or the TypeScript reference. Layouts follow the model
 * contract: x [seq, batch, F], h and c [L, batch, H], y [seq, batch, T].
 */
export interface LstmBackend {
  readonly kind: BackendKind;
  /** The returned arrays belong to the caller until the next `run`. */
  run(x: Float32Array, h: Float32Array, c: Float32Array, seq: number, batch: number): Promise<LstmOutputs>;
  release(): Promise<void>;
}

export interface BackendOptions {
  /** Threads ONNX Runtime may use for one call. Default 1: the engine batches, a second core serves MQTT I/O. */
  threads?: number;
}
