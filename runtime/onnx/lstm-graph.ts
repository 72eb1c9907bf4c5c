import { cellAttributesToOnnx } from './cell-attributes';
import { transpose } from './transpose';
import { gateCount, type LinearWeights, type LstmWeights } from '../contract/weights';
import { DEFAULT_TENSOR_NAMES, type TensorNames } from '../contract/tensor-names';
import { encodeModel } from './encode';
import { OnnxDataType, floatTensor, int64Tensor, type OnnxNode, type OnnxTensor, type OnnxValueInfo } from './types';

/**
 * Stores a weight matrix. The default keeps float32; the int8 path (models/quantize)
 * stores int8 values with per-channel scales and a DequantizeLinear in front.
 */
export type WeightStorer = (name: string, dims: number[], data: Float32Array, nodes: OnnxNode[], initializers: OnnxTensor[]) => string;

const storeFloat: WeightStorer = (name, dims, data, _nodes, initializers) => {
  initializers.push(floatTensor(name, dims, data));
  return name;
};

export interface BuildOptions {
  names?: Partial<TensorNames>;
  /** metadata_props, values already JSON-encoded. */
  metadata?: Record<string, string>;
  storeWeight?: WeightStorer;
  producerName?: string;
}

/**
 * Builds the ONNX graph of an L-layer LSTM (or GRU) with a linear head (and an
 * optional log-variance head), the same structure torch.onnx.export makes of
 * nn.LSTM/nn.GRU + nn.Linear: standard `LSTM`/`GRU` ops, opset 17, dynamic seq
 * and batch axes. Peepholes and cell attributes are written as the weights
 * carry them; a GRU has no c0/cn. A residual head (w.residual) adds the targets'
 * current inputs to y with a Gather of x on the feature axis and an Add.
 */
export function buildLstmModel(w: LstmWeights, opts: BuildOptions = {}): Uint8Array {
  const names = { ...DEFAULT_TENSOR_NAMES, ...opts.names };
  const store = opts.storeWeight ?? storeFloat;
  const H = w.hiddenSize;
  const L = w.layers.length;
  const T = w.head.b.length;
  const gru = w.cell === 'gru';
  const G = gateCount(w);
  const op = gru ? 'GRU' : 'LSTM';
  const nodes: OnnxNode[] = [];
  const inits: OnnxTensor[] = [];
  const node = (opType: string, inputs: string[], outputs: string[], attributes: OnnxNode['attributes'] = []): void => {
    nodes.push({ name: `${opType}_${nodes.length}`, opType, domain: '', inputs, outputs, attributes });
  };

  let hIn = [names.h0];
  let cIn = [names.c0];
  if (L > 1) {
    inits.push(int64Tensor('layer_split', [L], new Array<number>(L).fill(1)));
    hIn = w.layers.map((_, l) => `h0_l${l}`);
    cIn = w.layers.map((_, l) => `c0_l${l}`);
    node('Split', [names.h0, 'layer_split'], hIn, [{ name: 'axis', type: 2, i: 0 }]);
    if (!gru) node('Split', [names.c0, 'layer_split'], cIn, [{ name: 'axis', type: 2, i: 0 }]);
  }
  inits.push(int64Tensor('axis1', [1], [1]));

  let layerIn = names.x;
  const hOut: string[] = [];
  const cOut: string[] = [];
  w.layers.forEach((lw, l) => {
    const inSize = l === 0 ? w.inputSize : H;
    const Wn = store(`${op.toLowerCase()}${l}_W`, [1, G * H, inSize], lw.W, nodes, inits);
    const Rn = store(`${op.toLowerCase()}${l}_R`, [1, G * H, H], lw.R, nodes, inits);
    const B = new Float32Array(2 * G * H);
    B.set(lw.Wb, 0);
    B.set(lw.Rb, G * H);
    const prefix = `${op.toLowerCase()}${l}`;
    inits.push(floatTensor(`${prefix}_B`, [1, 2 * G * H], B));
    const yh = L === 1 ? names.hn : `hn_l${l}`;
    const yc = L === 1 ? names.cn : `cn_l${l}`;
    const attrs = [{ name: 'hidden_size', type: 2, i: H }, ...cellAttributesToOnnx(lw.attributes)];
    if (gru) {
      node('GRU', [layerIn, Wn, Rn, `${prefix}_B`, '', hIn[l]!], [`${prefix}_Y`, yh], attrs);
    } else {
      const ins = [layerIn, Wn, Rn, `${prefix}_B`, '', hIn[l]!, cIn[l]!];
      if (lw.P) {
        inits.push(floatTensor(`${prefix}_P`, [1, 3 * H], lw.P));
        ins.push(`${prefix}_P`);
      }
      node('LSTM', ins, [`${prefix}_Y`, yh, yc], attrs);
    }
    node('Squeeze', [`${prefix}_Y`, 'axis1'], [`${prefix}_out`]);
    hOut.push(yh);
    cOut.push(yc);
    layerIn = `${prefix}_out`;
  });
  if (L > 1) {
    node('Concat', hOut, [names.hn], [{ name: 'axis', type: 2, i: 0 }]);
    if (!gru) node('Concat', cOut, [names.cn], [{ name: 'axis', type: 2, i: 0 }]);
  }
  const head = (prefix: string, p: LinearWeights, out: string): void => {
    const wt = transpose(p.W, T, H);
    const Wn = store(`${prefix}_W`, [H, T], wt, nodes, inits);
    inits.push(floatTensor(`${prefix}_b`, [T], p.b));
    node('MatMul', [layerIn, Wn], [`${prefix}_mm`]);
    node('Add', [`${prefix}_mm`, `${prefix}_b`], [out]);
  };
  if (w.residual) {
    if (w.residual.length !== T || w.residual.some((f) => !Number.isInteger(f) || f < 0 || f >= w.inputSize)) throw new RangeError(`residual head [${w.residual.join(', ')}]: expected ${T} feature indices below ${w.inputSize}`);
    // y = head(h) + x[..., residual]: the targets' current inputs, gathered on the feature axis.
    inits.push(int64Tensor('residual_index', [T], [...w.residual]));
    head('head', w.head, 'head_y');
    node('Gather', [names.x, 'residual_index'], ['residual_x'], [{ name: 'axis', type: 2, i: 2 }]);
    node('Add', ['head_y', 'residual_x'], [names.y]);
  } else {
    head('head', w.head, names.y);
  }
  if (w.logvarHead) head('logvar_head', w.logvarHead, names.ylogvar);

  const f32 = (name: string, shape: OnnxValueInfo['shape']): OnnxValueInfo => ({ name, elemType: OnnxDataType.Float, shape });
  const outputs = [f32(names.y, ['seq', 'batch', T]), f32(names.hn, [L, 'batch', H]), ...(gru ? [] : [f32(names.cn, [L, 'batch', H])])];
  if (w.logvarHead) outputs.push(f32(names.ylogvar, ['seq', 'batch', T]));
  return encodeModel({
    irVersion: 8,
    opsetImports: [{ domain: '', version: 17 }],
    producerName: opts.producerName ?? 'edgelstm',
    producerVersion: '',
    graph: {
      name: 'edgelstm',
      nodes,
      initializers: inits,
      inputs: [f32(names.x, ['seq', 'batch', w.inputSize]), f32(names.h0, [L, 'batch', H]), ...(gru ? [] : [f32(names.c0, [L, 'batch', H])])],
      outputs,
    },
    metadata: new Map(Object.entries(opts.metadata ?? {})),
  });
}
