import { ModelError } from '../errors';
import type { TensorNames } from '../onnx/lstm-graph';
import type { LstmWeights } from '../model/weights';
import { BACKEND_KINDS, type BackendKind, type BackendOptions, type LstmBackend } from './backend';
import { OrtBackend, type ModelDims, type OrtModule } from './ort-backend';
import { ReferenceBackend } from './reference-backend';

/** Loads the runtime module only when it is asked for: a board without the native binary can still use wasm. */
export async function createBackend(
  kind: BackendKind,
  bytes: Uint8Array,
  io: TensorNames,
  dims: ModelDims,
  opts: BackendOptions,
  weights: () => LstmWeights,
): Promise<LstmBackend> {
  switch (kind) {
    case 'native':
      return OrtBackend.create('native', require('onnxruntime-node') as OrtModule, bytes, io, dims, opts);
    case 'wasm': {
      const ort = require('onnxruntime-web') as OrtModule & { env: { wasm: { numThreads: number } } };
      // Threads in wasm need SharedArrayBuffer workers; one thread is what a small board wants anyway.
      ort.env.wasm.numThreads = 1;
      return OrtBackend.create('wasm', ort, bytes, io, dims, opts);
    }
    case 'reference':
      return new ReferenceBackend(weights());
    default:
      throw new ModelError('unknown backend', { field: 'backend', expected: BACKEND_KINDS.join(' | '), found: String(kind) });
  }
}
