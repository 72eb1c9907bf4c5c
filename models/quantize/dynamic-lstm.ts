import type { LstmWeights } from '../../runtime/contract/weights';
import { transpose } from '../../runtime/onnx/transpose';
import { decodeModel } from '../../runtime/onnx/decode';
import { encodeModel } from '../../runtime/onnx/encode';
import { OnnxDataType, floatTensor, type OnnxGraph, type OnnxTensor } from '../../runtime/onnx/types';
import { int8Bytes, quantizeInt8, symmetricScales } from './int8';

/** What `--mode dynamic` costs, said in its help and written into the model's metadata. */
export const DYNAMIC_CAVEAT =
  'DynamicQuantizeLSTM quantizes activations with one scale per call, computed over the whole batch: ' +
  "a device's outputs depend on which devices share its batch (not batch-invariant, DESIGN.md section 3). " +
  'Runs on ONNX Runtime only; the reference backend approximates it with dequantized weights.';

/**
 * Rewrites the LSTM nodes of a model built by buildLstmModel into
 * com.microsoft DynamicQuantizeLSTM (ONNX Runtime contrib op, version 1).
 * Its weights are int8 and transposed relative to LSTM: W [1, inputs, 4H],
 * R [1, H, 4H], with scales and zero points [1, 4H] per output column
 * (or [1] per tensor); inputs X, W, R, B, seq_lens, initial_h, initial_c, P,
 * W_scale, W_zero_point, R_scale, R_zero_point.
 */
export function toDynamicQuantizeLstm(bytes: Uint8Array, weights: LstmWeights, perChannel: boolean): Uint8Array {
  const model = decodeModel(bytes);
  const g = model.graph;
  const H = weights.hiddenSize;
  const added: OnnxTensor[] = [];
  const lstms = g.nodes.filter((n) => n.opType === 'LSTM');
  lstms.forEach((n, l) => {
    const lw = weights.layers[l]!;
    const inSize = lw.W.length / (4 * H);
    const names = { W: `lstm${l}_Wt_q`, R: `lstm${l}_Rt_q` };
    for (const [key, data, rows] of [['W', lw.W, inSize], ['R', lw.R, H]] as const) {
      const t = transpose(data, 4 * H, rows); // [rows, 4H]: a channel is a column
      const channels = perChannel ? 4 * H : 1;
      const channelOf = perChannel ? (i: number): number => i % (4 * H) : (): number => 0;
      const scales = symmetricScales(t, channels, channelOf);
      const q = quantizeInt8(t, scales, channelOf);
      const scaleDims = perChannel ? [1, 4 * H] : [1];
      added.push({ name: names[key], dims: [1, rows, 4 * H], dataType: OnnxDataType.Int8, raw: int8Bytes(q) });
      added.push(floatTensor(`${names[key]}_scale`, scaleDims, scales));
      added.push({ name: `${names[key]}_zero_point`, dims: scaleDims, dataType: OnnxDataType.Int8, raw: new Uint8Array(channels) });
    }
    const inputs = [...n.inputs];
    while (inputs.length < 8) inputs.push('');
    inputs[1] = names.W;
    inputs[2] = names.R;
    n.opType = 'DynamicQuantizeLSTM';
    n.domain = 'com.microsoft';
    n.inputs = [...inputs.slice(0, 8), `${names.W}_scale`, `${names.W}_zero_point`, `${names.R}_scale`, `${names.R}_zero_point`];
  });
  // Drop what computed the float W and R of the plain LSTMs (now unused), then their initializers.
  g.initializers = [...g.initializers, ...added];
  pruneUnused(g);
  model.opsetImports = [...model.opsetImports, { domain: 'com.microsoft', version: 1 }];
  return encodeModel(model);
}

/** Removes nodes whose outputs nothing reads, until none is left, then unread initializers. */
function pruneUnused(g: OnnxGraph): void {
  for (;;) {
    const read = new Set<string>([...g.outputs.map((o) => o.name), ...g.nodes.flatMap((n) => n.inputs)]);
    const kept = g.nodes.filter((n) => n.outputs.some((o) => read.has(o)));
    if (kept.length === g.nodes.length) break;
    g.nodes = kept;
  }
  const read = new Set(g.nodes.flatMap((n) => n.inputs));
  g.initializers = g.initializers.filter((t) => read.has(t.name));
}
