import { ModelError } from '../../runtime/errors';
import { encodeMetadata, parseMetadata, type ModelMetadata } from '../../runtime/model/metadata';
import { decodeOnnxFile } from '../../runtime/onnx/decode';
import { extractLstmWeights } from '../../runtime/onnx/extract-weights';
import { buildLstmModel } from '../../runtime/onnx/lstm-graph';
import type { OnnxModel } from '../../runtime/onnx/types';
import { toDynamicQuantizeLstm, DYNAMIC_CAVEAT } from './dynamic-lstm';
import { foldLstmBiases } from './fold-biases';
import { int8WeightStorer, layerScales } from './weight-storer';
import { boundCalibration, calibrate } from './calibrate';
import { buildStaticModel } from './quantize-static';
import type { RawSeries } from '../toolchain/series-data';
import type { LstmWeights } from '../../runtime/contract/weights';
import { ACTIVATION_PARAMS, type Activation } from '../../runtime/contract/cell-attributes';

export type QuantizeMode = 'weight' | 'dynamic' | 'static';

/** Why --mode static takes no --no-per-channel (said by the command and by quantizeModel). */
export const STATIC_PER_CHANNEL = 'the int8-static form has one scale per output channel by construction, the input scales being folded into each column; it has no per-layer form';

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
  /**
   * 'static' only: series to calibrate the activation scales on (raw units,
   * normalized as the engine does), and what they are, for the metadata.
   * Without them the engine's bounds set the scales (±CLIP for inputs, ±1 for h).
   */
  calibration?: { series: readonly RawSeries[]; source: string };
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
  if (mode !== 'weight' && mode !== 'dynamic' && mode !== 'static') throw new RangeError(`mode: expected "weight", "dynamic" or "static", found ${JSON.stringify(mode)}`);
  const onnx = decodeOnnxFile(bytes, file);
  const metadata = parseMetadata(onnx.metadata, opts.sidecar, file);
  if (metadata.quantization.scheme !== 'none') {
    throw new ModelError('model is already quantized; quantize the float32 model instead', { file, field: 'edgelstm.quantization', expected: '{"scheme":"none"}', found: JSON.stringify(metadata.quantization) });
  }
  const weights = extractLstmWeights(onnx, metadata.io, file);
  if (mode !== 'weight' && weights.cell === 'gru') {
    throw new ModelError(`--mode ${mode} has no GRU form (it builds LSTM operators); quantize a GRU with the default --mode weight (int8 weights, batch-invariant)`, { file, field: 'mode', expected: 'weight for a GRU', found: mode });
  }
  if (mode === 'static') {
    // Its scales are per output column by construction (the input scales are folded into each column): no per-layer form.
    if (!perChannel) throw new RangeError(`perChannel: expected true with mode "static" (${STATIC_PER_CHANNEL}), found false`);
    refuseStaticUnsupported(weights, file);
    const cal = opts.calibration;
    const calibration = cal ? calibrate(weights, metadata.normalization, cal.series, cal.source) : boundCalibration(weights.inputSize, weights.layers.length);
    return buildStaticModel(weights, calibration, metadata.io, { ...producerProps(onnx), ...encodeMetadata(metadata) });
  }
  const quantized: ModelMetadata = { ...metadata, quantization: { scheme: mode === 'weight' ? 'int8-weight' : 'int8-dynamic', perChannel } };
  const props: Record<string, string> = { ...producerProps(onnx), ...encodeMetadata(quantized) };
  if (mode === 'dynamic') {
    // The caveat travels in the file, where `inspect` and a reviewer see it.
    props['edgelstm.quantization'] = JSON.stringify({ ...quantized.quantization, batchInvariant: false, caveat: DYNAMIC_CAVEAT });
  }
  const built = buildLstmModel(weights, { names: metadata.io, metadata: props, storeWeight: int8WeightStorer(layerScales(weights, perChannel)), producerName: 'edgelstm quantize' });
  return foldLstmBiases(mode === 'weight' ? built : toDynamicQuantizeLstm(built, weights, perChannel));
}

const DEFAULT_LSTM_ACTIVATIONS = ['Sigmoid', 'Tanh', 'Tanh'];

/** A float32 attribute as written (0.3, not 0.30000001192092896). */
const short = (v: number): number => Number(v.toPrecision(7));

/** HardSigmoid(0.3, 0.4), LeakyRelu(0.01), Tanh: an activation with the parameters it takes. */
function activationText(x: Activation): string {
  const p = ACTIVATION_PARAMS[x.name] ?? {};
  const args = [p.alpha !== undefined ? short(x.alpha) : undefined, p.beta !== undefined ? short(x.beta) : undefined].filter((v) => v !== undefined);
  return args.length ? `${x.name}(${args.join(', ')})` : x.name;
}

/**
 * The int8-static form computes the plain LSTM: sigmoid/tanh/tanh, no
 * peepholes, no coupled input and forget gates, no clip (lstm-int8-graph.ts,
 * reference-int8.ts). A layer with any of these would be computed without
 * them, so it is refused by name with what was found, as a GRU is. An
 * all-zero P and the default activations written out (as tf2onnx writes
 * them) compute the same as none, so they pass.
 */
function refuseStaticUnsupported(weights: LstmWeights, file: string): void {
  const found: Array<{ field: string; found: string }> = [];
  weights.layers.forEach((lw, l) => {
    const where = `LSTM layer ${l}`;
    if (lw.P && lw.P.some((v) => v !== 0)) found.push({ field: `${where} P`, found: `peephole weights P [${lw.P.length}], max |P| ${Math.max(...Array.from(lw.P, Math.abs)).toPrecision(3)}` });
    const a = lw.attributes;
    if (a?.inputForget) found.push({ field: `${where} input_forget`, found: 'input_forget=1' });
    if (a?.clip !== undefined) found.push({ field: `${where} clip`, found: `clip=${short(a.clip)}` });
    if (a?.activations && !(a.activations.length === 3 && a.activations.every((x, i) => x.name === DEFAULT_LSTM_ACTIVATIONS[i]))) {
      found.push({ field: `${where} activations`, found: `activations=[${a.activations.map(activationText).join(', ')}]` });
    }
  });
  if (weights.residual) found.push({ field: 'residual head', found: `y adds input features [${weights.residual.join(', ')}]` });
  if (found.length === 0) return;
  throw new ModelError(
    `--mode static does not implement ${found.map((f) => f.field).join(', ')} (its int8 graph computes the plain LSTM: sigmoid, tanh, tanh, no peepholes, no input_forget, no clip, a plain linear head); quantize this model with the default --mode weight, which keeps them`,
    { file, field: found[0]!.field, expected: 'an LSTM without peepholes, input_forget, clip, non-default activations or a residual head for --mode static', found: found.map((f) => f.found).join('; ') },
  );
}

/** A producer's own metadata_props travel along; edgelstm's are re-encoded. */
function producerProps(onnx: OnnxModel): Record<string, string> {
  const props: Record<string, string> = {};
  for (const [k, v] of onnx.metadata) if (!k.startsWith('edgelstm.')) props[k] = v;
  return props;
}
