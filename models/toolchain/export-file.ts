import { readFileSync } from 'node:fs';
import { loadModel } from '../../runtime/model/load-model';
import { encodeMetadata, type ModelMetadata } from '../../runtime/model/metadata';
import type { LstmWeights } from '../../runtime/contract/weights';
import { decodeModel } from '../../runtime/onnx/decode';
import { extractLstmWeights } from '../../runtime/onnx/extract-weights';
import { buildLstmModel } from '../../runtime/onnx/lstm-graph';
import { trainedTensorNames } from './export-model';
import type { CellAttributes } from '../../runtime/contract/cell-attributes';
import type { CellKind } from '../../runtime/contract/cell';

export type ExportFormat = 'onnx' | 'json';

/** A model's weights and metadata as plain JSON: for other runtimes, notebooks and diffs. */
export interface WeightsJson {
  format: 1;
  metadata: ModelMetadata;
  /** 'lstm' or 'gru'. */
  cell: CellKind;
  /** Gate order (ONNX's): LSTM input, output, forget, cell; GRU update, reset, hidden. Matrices row-major. */
  inputSize: number;
  hiddenSize: number;
  /** P: LSTM peepholes (input, output, forget), when the model has them; attributes: clip, inputForget, linearBeforeReset, activations. */
  layers: { W: number[]; R: number[]; Wb: number[]; Rb: number[]; P?: number[]; attributes?: CellAttributes }[];
  head: { W: number[]; b: number[] };
  logvarHead?: { W: number[]; b: number[] };
  /** A residual head: y[o] = head(h)[o] + x[residual[o]] (the input feature each target adds). */
  residual?: number[];
}

/**
 * Reads any model the loader accepts (edgelstm's own, a PyTorch export with a
 * sidecar, an int8 model) and writes it again in the contract's canonical
 * form: the standard LSTM (or GRU) op with its peepholes and attributes, float32 weights, the default tensor names and
 * every metadata key inside the file. Or, with 'json', the weights as JSON.
 * The input is loaded first (every contract check), the ONNX output after.
 */
export async function exportModelFile(source: string, format: ExportFormat): Promise<{ bytes: Uint8Array; metadata: ModelMetadata }> {
  const model = await loadModel(source, { backend: 'reference' });
  const metadata = model.metadata;
  await model.release();
  const weights = extractLstmWeights(decodeModel(readFileSync(source)), metadata.io, source);
  const io = trainedTensorNames(weights.logvarHead !== undefined, weights.cell);
  const canonical: ModelMetadata = { ...metadata, io, quantization: { scheme: 'none' } };
  if (format === 'json') return { bytes: Buffer.from(`${JSON.stringify(weightsJson(weights, canonical))}\n`), metadata: canonical };
  const bytes = buildLstmModel(weights, { names: io, metadata: encodeMetadata(canonical), producerName: 'edgelstm export' });
  const check = await loadModel(bytes, { sidecar: false, name: `${source} (exported)` });
  await check.release();
  return { bytes, metadata: canonical };
}

function weightsJson(w: LstmWeights, metadata: ModelMetadata): WeightsJson {
  const a = (x: Float32Array): number[] => Array.from(x);
  return {
    format: 1,
    metadata,
    cell: w.cell ?? 'lstm',
    inputSize: w.inputSize,
    hiddenSize: w.hiddenSize,
    layers: w.layers.map((l) => ({ W: a(l.W), R: a(l.R), Wb: a(l.Wb), Rb: a(l.Rb), ...(l.P ? { P: a(l.P) } : {}), ...(l.attributes ? { attributes: l.attributes } : {}) })),
    head: { W: a(w.head.W), b: a(w.head.b) },
    ...(w.logvarHead ? { logvarHead: { W: a(w.logvarHead.W), b: a(w.logvarHead.b) } } : {}),
    ...(w.residual ? { residual: [...w.residual] } : {}),
  };
}
