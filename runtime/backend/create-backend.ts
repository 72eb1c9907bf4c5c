import { ModelError } from '../errors';
import type { ModelDims } from '../contract/dims';
import type { TensorNames } from '../contract/tensor-names';
import type { LstmWeights } from '../contract/weights';
import type { CellKind, SequenceLayout } from '../contract/cell';
import { BACKEND_KINDS, type BackendGraph, type BackendKind, type BackendOptions, type LstmBackend } from './backend';
import { OrtBackend } from './ort-backend';
import { loadNative, loadWasm } from './ort-modules';
import { ReferenceBackend, type ReferenceWeights } from './reference-backend';

/** Loads the runtime module only when it is asked for: a board without the native binary can still use wasm. */
export async function createBackend(
  kind: BackendKind,
  bytes: Uint8Array,
  io: TensorNames,
  dims: ModelDims,
  opts: BackendOptions,
  weights: () => LstmWeights | ReferenceWeights,
  /** The cell and the layout of x and y, as the loader read them from the graph. Default: as io says, seq-first. */
  shape: { cell: CellKind; layout: SequenceLayout } = { cell: io.c0 !== undefined ? 'lstm' : 'gru', layout: 'seq-first' },
): Promise<LstmBackend> {
  const graph: BackendGraph = { io, dims, ...shape };
  switch (kind) {
    case 'native':
      return OrtBackend.create('native', loadNative(), bytes, graph, opts);
    case 'wasm':
      return OrtBackend.create('wasm', loadWasm(), bytes, graph, opts);
    case 'reference':
      return new ReferenceBackend(weights());
    default:
      throw new ModelError('unknown backend', { field: 'backend', expected: BACKEND_KINDS.join(' | '), found: String(kind) });
  }
}
