import { ModelError } from '../../runtime/errors';
import { encodeMetadata, parseMetadata, type ModelMetadata } from '../../runtime/model/metadata';
import { decodeModel } from '../../runtime/onnx/decode';
import { extractLstmWeights } from '../../runtime/onnx/extract-weights';
import { buildLstmModel } from '../../runtime/onnx/lstm-graph';
import type { OnnxModel } from '../../runtime/onnx/types';
import { toDynamicQuantizeLstm, DYNAMIC_CAVEAT } from './dynamic-lstm';
import { foldLstmBiases } from './fold-biases';
import { int8WeightStorer, layerScales } from './weight-storer';

export type QuantizeMode = 'weight' | 'dynamic';

export interface QuantizeOptions {
  /**
   * 'weight' (default): int8 weights dequantized in the graph, float32
   * activations; batch-invariant. 'dynamic': ONNX Runtime's
   * com.microsoft.DynamicQuantizeLSTM, which quantizes activations with one
   * scale per call, so a device's outputs depend on its batch-mates.
   */
  mode?: QuantizeMode;
  /** One scale per output channel (default true) rather than one per matrix. */
  perChannel?: boolean;
  /** Metadata overriding the file's (a sidecar manifest), folded into the output. */
  sidecar?: Record<string, unknown>;
  /** Names the model in errors. */
  file?: string;
}

/**
 * Quantizes a model to int8 and returns the new file's bytes. The weights are
 * read back with extractLstmWeights and the graph rebuilt by buildLstmModel,
 * so any model the loader accepts (edgelstm's own or a PyTorch export) comes
 * out in the same canonical shape, with its tensor names and metadata kept.
 */
export function quantizeModel(bytes: Uint8Array, opts: QuantizeOptions = {}): Uint8Array {
  const file = opts.file ?? '<bytes>';
  const mode = opts.mode ?? 'weight';
  const perChannel = opts.perChannel ?? true;
  if (mode !== 'weight' && mode !== 'dynamic') throw new RangeError(`mode: expected "weight" or "dynamic", found ${JSON.stringify(mode)}`);
  let onnx: OnnxModel;
  try {
    onnx = decodeModel(bytes);
  } catch (e) {
    throw new ModelError(`not a valid ONNX file (${(e as Error).message})`, { file });
  }
  const metadata = parseMetadata(onnx.metadata, opts.sidecar, file);
  if (metadata.quantization.scheme !== 'none') {
    throw new ModelError('model is already quantized; quantize the float32 model instead', { file, field: 'edgelstm.quantization', expected: '{"scheme":"none"}', found: JSON.stringify(metadata.quantization) });
  }
  const weights = extractLstmWeights(onnx, metadata.io, file);
  const quantized: ModelMetadata = { ...metadata, quantization: { scheme: mode === 'weight' ? 'int8-weight' : 'int8-dynamic', perChannel } };
  const props: Record<string, string> = {};
  // A producer's own metadata_props travel along; edgelstm's are re-encoded.
  for (const [k, v] of onnx.metadata) if (!k.startsWith('edgelstm.')) props[k] = v;
  Object.assign(props, encodeMetadata(quantized));
  if (mode === 'dynamic') {
    // The caveat travels in the file, where `inspect` and a reviewer see it.
    props['edgelstm.quantization'] = JSON.stringify({ ...quantized.quantization, batchInvariant: false, caveat: DYNAMIC_CAVEAT });
  }
  const built = buildLstmModel(weights, { names: metadata.io, metadata: props, storeWeight: int8WeightStorer(layerScales(weights, perChannel)), producerName: 'edgelstm quantize' });
  return foldLstmBiases(mode === 'weight' ? built : toDynamicQuantizeLstm(built, weights, perChannel));
}
