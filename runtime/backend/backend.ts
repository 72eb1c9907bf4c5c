import type { CellKind, SequenceLayout } from '../contract/cell';
import type { ModelDims } from '../contract/dims';
import type { LstmOutputs } from '../contract/outputs';
import type { TensorNames } from '../contract/tensor-names';

export type BackendKind = 'native' | 'wasm' | 'reference';

export const BACKEND_KINDS: readonly BackendKind[] = ['native', 'wasm', 'reference'];

/**
 * One LSTM computation for a batch of devices, behind which sits ONNX Runtime
 * (native or wasm) or the TypeScript reference. Layouts follow the model
 * contract: x [seq, batch, F], h and c [L, batch, H], y [seq, batch, T],
 * whatever the graph's own layout (a batch-first graph is fed transposed).
 * A GRU has no cell state: `c` is then empty and so is the `cn` returned.
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

/** What a backend needs to know of the graph besides its bytes. */
export interface BackendGraph {
  io: TensorNames;
  dims: ModelDims;
  cell: CellKind;
  layout: SequenceLayout;
}
