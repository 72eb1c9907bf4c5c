import { gateCount, type LstmWeights } from '../../runtime/contract/weights';
import type { WeightStorer } from '../../runtime/onnx/lstm-graph';
import { OnnxDataType, floatTensor } from '../../runtime/onnx/types';
import { halfAtLeast, storeAsHalf } from '../../runtime/onnx/half';
import { int8Bytes, quantizeInt8 } from './int8';

/**
 * One scale per gate row of each LSTM (or GRU) layer, shared by W and R: a gate's
 * pre-activation is the row of [W | R] times [x; h], so that row is the
 * output channel. Sharing the scale costs nothing in range (the row's largest
 * weight sets it either way, and W and R are initialized and trained on the
 * same scale) and saves a second 4H-float scale tensor, which at H = 32 and
 * one input feature is as big as W itself.
 */
export function layerScales(w: LstmWeights, perChannel: boolean): Float32Array[] {
  const H = w.hiddenSize;
  const G = gateCount(w) * H;
  return w.layers.map((lw) => {
    const inSize = lw.W.length / G;
    const maxAbs = new Float64Array(perChannel ? G : 1);
    for (let g = 0; g < G; g++) {
      const ch = perChannel ? g : 0;
      for (let k = 0; k < inSize; k++) maxAbs[ch] = Math.max(maxAbs[ch]!, Math.abs(lw.W[g * inSize + k]!));
      for (let k = 0; k < H; k++) maxAbs[ch] = Math.max(maxAbs[ch]!, Math.abs(lw.R[g * H + k]!));
    }
    // Scales are stored as float16 (half the bytes; at H = 32 the scales are an eighth of
    // the file). Rounded up to a half value before quantizing, so the stored scale is exact
    // and no weight lands beyond 127: the only error left is int8 rounding.
    return Float32Array.from(maxAbs, (m) => (m > 0 ? halfAtLeast(m / 127) : 1));
  });
}

/**
 * Stores LSTM W and R as int8 with symmetric per-gate-row scales: int8 on
 * disk, float32 compute. The weight is `Cast(int8) * scale`, not a
 * DequantizeLinear, on purpose: ONNX Runtime's optimizer never constant-folds
 * DequantizeLinear (it keeps it for its QDQ fusions unless a session sets
 * session.disable_quant_qdq), so the LSTM would see a weight computed at run
 * time, skip prepacking it, and take a different GEMM path at batch 1 than
 * at batch 8: outputs then differ in the last bit with the batch size
 * (measured: 1.5e-8), which breaks bit-identical batch invariance
 * (DESIGN.md section 3) and costs a dequantization per call. Cast and Mul of
 * constants are folded when the session is created, in any ONNX Runtime
 * session with default options: the LSTM then runs exactly as an fp32 model
 * whose weights are the dequantized int8 values. Every activation stays
 * float32, so a device's output never depends on its batch-mates.
 *
 * The heads ([H, T]) stay float32: they are small (H * T floats), and with
 * a DequantizeLinear in front ONNX Runtime fuses DequantizeLinear + MatMul +
 * Add into MatMulNBits, which computes differently from the dequantized
 * weights (measured: 5e-4 off the reference at H = 32).
 */
export function int8WeightStorer(scales: readonly Float32Array[]): WeightStorer {
  return (name, dims, data, nodes, initializers) => {
    const m = /^(lstm|gru)(\d+)_[WR]$/.exec(name);
    if (!m || dims.length !== 3) {
      initializers.push(floatTensor(name, dims, data));
      return name;
    }
    const layer = Number(m[2]);
    const s = scales[layer]!;
    const rows = dims[1]!;
    const cols = dims[2]!;
    const perChannel = s.length > 1;
    const q = quantizeInt8(data, s, perChannel ? (i) => Math.floor(i / cols) % rows : () => 0);
    const scaleName = `${m[1]!}${layer}_scale`;
    // [1, GH, 1] broadcasts one scale over each gate row of W [1, GH, F] and R [1, GH, H] (G = 4 for an LSTM, 3 for a GRU).
    if (!nodes.some((n) => n.outputs.includes(scaleName))) storeAsHalf(scaleName, perChannel ? [1, s.length, 1] : [], s, nodes, initializers);
    initializers.push({ name: `${name}_q`, dims, dataType: OnnxDataType.Int8, raw: int8Bytes(q) });
    nodes.push({ name: '', opType: 'Cast', domain: '', inputs: [`${name}_q`], outputs: [`${name}_i8f`], attributes: [{ name: 'to', type: 2, i: OnnxDataType.Float }] });
    nodes.push({ name: '', opType: 'Mul', domain: '', inputs: [`${name}_i8f`, scaleName], outputs: [name], attributes: [] });
    return name;
  };
}
