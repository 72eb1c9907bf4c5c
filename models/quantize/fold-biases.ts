import { decodeModel } from '../../runtime/onnx/decode';
import { encodeModel } from '../../runtime/onnx/encode';
import { storeAsHalf } from '../../runtime/onnx/half';
import { int64Tensor, tensorFloats, type OnnxNode, type OnnxTensor } from '../../runtime/onnx/types';

/**
 * Stores each LSTM's bias B = [Wb, Rb] ([1, 8H]) as the one sum Wb + Rb
 * ([1, 4H], float16, cast back to float32) padded with zeros by a Pad node.
 * float16 keeps 11 significant bits: an error below 5e-4 for a bias of 1,
 * smaller than what int8 rounding of the weights adds to a gate. The LSTM only ever uses the sum
 * (ONNX Runtime adds the two once, in float32, before the first step), so the
 * outputs are the same, and the file loses 4H floats per layer: at H = 32
 * that is a tenth of the int8 file. ONNX Runtime folds the Cast and Pad
 * into a constant when the session is created. GRU biases stay as they are:
 * with linear_before_reset the recurrent bias of the hidden gate is applied
 * inside the reset gate's product, so Wb + Rb is not what the GRU computes.
 */
export function foldLstmBiases(bytes: Uint8Array): Uint8Array {
  const model = decodeModel(bytes);
  const g = model.graph;
  const biasInputs = new Set(g.nodes.filter((n) => n.opType === 'LSTM' || n.opType === 'DynamicQuantizeLSTM').map((n) => n.inputs[3]).filter((b): b is string => !!b));
  const pads: OnnxNode[] = [];
  const inits: OnnxTensor[] = [];
  for (const t of g.initializers) {
    if (!biasInputs.has(t.name) || t.dims.length !== 2 || t.dims[0] !== 1) {
      inits.push(t);
      continue;
    }
    const half = t.dims[1]! / 2;
    const b = tensorFloats(t);
    const sum = new Float32Array(half);
    for (let i = 0; i < half; i++) sum[i] = b[i]! + b[half + i]!;
    storeAsHalf(`${t.name}_sum`, [1, half], sum, pads, inits);
    inits.push(int64Tensor(`${t.name}_pads`, [4], [0, 0, 0, half]));
    pads.push({ name: '', opType: 'Pad', domain: '', inputs: [`${t.name}_sum`, `${t.name}_pads`], outputs: [t.name], attributes: [] });
  }
  g.initializers = inits;
  g.nodes = [...pads, ...g.nodes];
  return encodeModel(model);
}
