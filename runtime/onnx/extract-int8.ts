import { ModelError } from '../errors';
import type { LinearWeights, LstmLayerWeights, LstmWeights } from '../contract/weights';
import type { StaticInt8Layer, StaticInt8Lstm } from '../contract/int8-static';
import { GATES, ZERO_POINT, int8Names, type Gate } from './lstm-int8-graph';
import { transpose } from './transpose';
import { OnnxDataType, tensorFloats, type OnnxModel, type OnnxTensor } from './types';

/**
 * Reads an int8-static model (buildStaticInt8Model) back from its
 * initializers, by the names the builder gives them: the integer matrices,
 * column scales, biases and activation scales the reference backend needs
 * to emulate the quantized products exactly.
 */
export function extractStaticInt8(model: OnnxModel, file: string): StaticInt8Lstm {
  const inits = new Map(model.graph.initializers.map((t) => [t.name, t]));
  const get = (name: string, type: number): OnnxTensor => {
    const t = inits.get(name);
    if (!t || t.dataType !== type) {
      throw new ModelError('int8-static model is missing an initializer', { file, field: name, expected: `an initializer of ONNX data type ${type} (as edgelstm quantize --mode static writes it)`, found: t ? `data type ${t.dataType}` : 'nothing' });
    }
    return t;
  };
  const floats = (name: string): Float32Array => tensorFloats(get(name, OnnxDataType.Float));
  const layers: StaticInt8Layer[] = [];
  let H = 0;
  let inputSize = 0;
  const matrix = (l: number, name: (l: number, g: Gate) => string): { Q: Int8Array; rows: number } => {
    const blocks = GATES.map((g) => get(name(l, g), OnnxDataType.Uint8));
    const [rows, h] = blocks[0]!.dims as [number, number];
    const Q = new Int8Array(rows * 4 * h);
    blocks.forEach((b, gi) => {
      for (let k = 0; k < rows; k++) for (let j = 0; j < h; j++) Q[k * 4 * h + gi * h + j] = b.raw[k * h + j]! - ZERO_POINT;
    });
    return { Q, rows };
  };
  for (let l = 0; inits.has(int8Names.hScale(l)); l++) {
    const x = matrix(l, int8Names.Qx);
    const h = matrix(l, int8Names.Qh);
    H = h.rows;
    if (l === 0) inputSize = x.rows;
    const cat = (name: (l: number, g: Gate) => string): Float32Array => {
      const out = new Float32Array(4 * H);
      GATES.forEach((g, gi) => out.set(floats(name(l, g)), gi * H));
      return out;
    };
    const inScale = l === 0 ? floats(int8Names.inScale(0)) : Float32Array.of(layers[l - 1]!.hScale);
    layers.push({ inScale, hScale: floats(int8Names.hScale(l))[0]!, Qx: x.Q, Qh: h.Q, xColScale: cat(int8Names.xColScale), hColScale: cat(int8Names.hColScale), bias: cat(int8Names.bias) });
  }
  if (layers.length === 0) throw new ModelError('int8-static model has no quantized LSTM layer', { file, field: int8Names.hScale(0), expected: 'an initializer', found: 'nothing' });
  const head = (prefix: string): LinearWeights => {
    const Wt = get(`${prefix}_W`, OnnxDataType.Float);
    const T = Wt.dims[1]!;
    return { W: transpose(tensorFloats(Wt), H, T), b: floats(`${prefix}_b`) };
  };
  const out: StaticInt8Lstm = { inputSize, hiddenSize: H, layers, head: head('head') };
  return inits.has('logvar_head_W') ? { ...out, logvarHead: head('logvar_head') } : out;
}

/**
 * The float weights an int8-static model computes with, dequantized:
 * W[j, k] = Qx[k, j] * xColScale[j] / a_k (a_k the activation scale folded
 * into row k), R likewise. For tools that want float weights (export, fine-tuning); the
 * reference backend emulates the integer form instead.
 */
export function dequantizeStaticInt8(w: StaticInt8Lstm): LstmWeights {
  const H = w.hiddenSize;
  const layers = w.layers.map((lw, l): LstmLayerWeights => {
    const inSize = l === 0 ? w.inputSize : H;
    const W = new Float32Array(4 * H * inSize);
    const R = new Float32Array(4 * H * H);
    for (let j = 0; j < 4 * H; j++) {
      for (let k = 0; k < inSize; k++) W[j * inSize + k] = (lw.Qx[k * 4 * H + j]! * lw.xColScale[j]!) / lw.inScale[lw.inScale.length === 1 ? 0 : k]!;
      for (let k = 0; k < H; k++) R[j * H + k] = (lw.Qh[k * 4 * H + j]! * lw.hColScale[j]!) / lw.hScale;
    }
    return { W, R, Wb: Float32Array.from(lw.bias), Rb: new Float32Array(4 * H) };
  });
  const out: LstmWeights = { inputSize: w.inputSize, hiddenSize: H, layers, head: w.head };
  return w.logvarHead ? { ...out, logvarHead: w.logvarHead } : out;
}

/** Whether a graph is the int8-static form (it has no LSTM op to read weights from). */
export function isStaticInt8(model: OnnxModel): boolean {
  return model.graph.initializers.some((t) => t.name === int8Names.hScale(0));
}
