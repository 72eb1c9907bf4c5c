import type { Quantization } from '../../runtime/model/metadata';
import type { LstmWeights } from '../../runtime/contract/weights';
import { buildStaticInt8Model } from '../../runtime/onnx/lstm-int8-graph';
import type { StaticInt8Layer, StaticInt8Lstm } from '../../runtime/contract/int8-static';
import type { TensorNames } from '../../runtime/contract/tensor-names';
import type { Calibration } from './calibrate';

/** The fixed activation scales of an int8-static model: one per input feature, one per layer's state. */
export interface ActivationScales {
  /** [F]: scale of each normalized input feature. */
  readonly x: readonly number[];
  /** [L]: scale of each layer's h. */
  readonly h: readonly number[];
}

/**
 * Quantizes float LSTM weights into the int8-static form. Row k of W^T
 * multiplies input feature k, quantized with scale a_k; a_k is folded into
 * the row (W[j, k] * a_k) and the folded matrix is quantized per output
 * column j with scale max_k |W[j, k] a_k| / 127; R^T likewise with the
 * state's scale. Then colScale[j] * sum_k q(u_k) Q[k, j] approximates the
 * float product, the integer sum being exact.
 */
export function staticInt8Weights(w: LstmWeights, scales: ActivationScales): StaticInt8Lstm {
  const H = w.hiddenSize;
  if (scales.x.length !== w.inputSize) throw new RangeError(`activation scales: expected ${w.inputSize} input scales, found ${scales.x.length}`);
  if (scales.h.length !== w.layers.length) throw new RangeError(`activation scales: expected ${w.layers.length} state scales, found ${scales.h.length}`);
  const layers = w.layers.map((lw, l): StaticInt8Layer => {
    const inSize = l === 0 ? w.inputSize : H;
    const inScale = Float32Array.from(l === 0 ? scales.x : [scales.h[l - 1]!]);
    const hScale = Math.fround(scales.h[l]!);
    const x = foldAndQuantize(lw.W, inSize, 4 * H, (k) => inScale[inScale.length === 1 ? 0 : k]!);
    const h = foldAndQuantize(lw.R, H, 4 * H, () => hScale);
    const bias = new Float32Array(4 * H);
    for (let j = 0; j < 4 * H; j++) bias[j] = lw.Wb[j]! + lw.Rb[j]!;
    return { inScale, hScale, Qx: x.Q, Qh: h.Q, xColScale: x.colScale, hColScale: h.colScale, bias };
  });
  const out: StaticInt8Lstm = { inputSize: w.inputSize, hiddenSize: H, layers, head: w.head };
  return w.logvarHead ? { ...out, logvarHead: w.logvarHead } : out;
}

/** M [cols, rows] (ONNX's W or R) times the activation scales of its rows, transposed to [rows, cols] int8 with a scale per column. */
function foldAndQuantize(M: Float32Array, rows: number, cols: number, a: (k: number) => number): { Q: Int8Array; colScale: Float32Array } {
  const colScale = new Float32Array(cols);
  const Q = new Int8Array(rows * cols);
  for (let j = 0; j < cols; j++) {
    let max = 0;
    for (let k = 0; k < rows; k++) max = Math.max(max, Math.abs(M[j * rows + k]! * a(k)));
    colScale[j] = max > 0 ? max / 127 : 1;
    const s = colScale[j]!;
    for (let k = 0; k < rows; k++) Q[k * cols + j] = Math.max(-127, Math.min(127, Math.round((M[j * rows + k]! * a(k)) / s)));
  }
  return { Q, colScale };
}

/** Builds the int8-static file: the form, and the scales and their calibration in edgelstm.quantization. */
export function buildStaticModel(w: LstmWeights, calibration: Calibration, names: TensorNames, props: Record<string, string>): Uint8Array {
  const quantization: Quantization = {
    scheme: 'int8-static', perChannel: true, batchInvariant: true,
    scales: { x: [...calibration.scales.x], h: [...calibration.scales.h] },
    calibration: { ...calibration.summary },
  };
  return buildStaticInt8Model(staticInt8Weights(w, calibration.scales), {
    names, producerName: 'edgelstm quantize', metadata: { ...props, 'edgelstm.quantization': JSON.stringify(quantization) },
  });
}
