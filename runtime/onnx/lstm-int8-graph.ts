import type { LinearWeights } from '../contract/weights';
import type { StaticInt8Lstm } from '../contract/int8-static';
import { encodeModel } from './encode';
import { transpose } from './transpose';
import { DEFAULT_TENSOR_NAMES, type TensorNames } from '../contract/tensor-names';
import { OnnxDataType, floatTensor, int64Tensor, type OnnxGraph, type OnnxNode, type OnnxTensor, type OnnxValueInfo } from './types';

export interface Int8BuildOptions {
  names?: Partial<TensorNames>;
  /** metadata_props, values already JSON-encoded. */
  metadata?: Record<string, string>;
  producerName?: string;
}

/**
 * Activations and weights are stored as uint8 with zero point 128 (the int8
 * value plus 128): ONNX Runtime's uint8 x uint8 kernels are exact on every
 * CPU (int16 products summed in int32), where uint8 x int8 on x86 without
 * VNNI sums pairs in int16 with saturation (measured: wrong sums at full
 * range) and int8 x int8 takes a slow generic path (measured 5x slower).
 */
export const ZERO_POINT = 128;

/** Gate blocks of the pre-activations, in ONNX's order. */
export const GATES = ['i', 'o', 'f', 'c'] as const;

export type Gate = (typeof GATES)[number];

/** Initializer names the reference backend reads the form back by. */
export const int8Names = {
  Qx: (l: number, gate: Gate): string => `lstm${l}_Qx_${gate}`,
  Qh: (l: number, gate: Gate): string => `lstm${l}_Qh_${gate}`,
  xColScale: (l: number, gate: Gate): string => `lstm${l}_xcolscale_${gate}`,
  hColScale: (l: number, gate: Gate): string => `lstm${l}_hcolscale_${gate}`,
  bias: (l: number, gate: Gate): string => `lstm${l}_bias_${gate}`,
  inScale: (l: number): string => `lstm${l}_inscale`,
  hScale: (l: number): string => `lstm${l}_hscale`,
};

/**
 * Builds the int8-static model: the LSTM unrolled into explicit operators
 * (the ONNX LSTM operator has no int8 form) inside a Scan over the sequence
 * axis, so `seq` stays dynamic. Per step and layer: QuantizeLinear of the
 * input and of h (fixed scales), then for each gate two com.microsoft
 * MatMulIntegerToFloat against its uint8 blocks of Qx and Qh (exact int32
 * sums, then `scale * sum (+ bias)` in float32: nothing depends on which
 * rows share the call) and their Add, Sigmoid, Tanh and the cell update
 * in float32. Products per gate rather than one split four ways: ONNX
 * Runtime's Split along the feature axis copies strided rows and measured
 * slower than the three extra small products. States travel through the
 * Scan as [1, batch, H], so no Squeeze or Unsqueeze copies them. The head
 * is the float32 MatMul + Add of buildLstmModel. Inputs and outputs are the
 * model contract's (DESIGN.md section 2).
 */
export function buildStaticInt8Model(w: StaticInt8Lstm, opts: Int8BuildOptions = {}): Uint8Array {
  const names = { ...DEFAULT_TENSOR_NAMES, ...opts.names };
  const H = w.hiddenSize;
  const L = w.layers.length;
  const T = w.head.b.length;
  const F = w.inputSize;
  const inits: OnnxTensor[] = [];
  const outer: OnnxNode[] = [];
  const body: OnnxNode[] = [];
  let count = 0;
  const node = (list: OnnxNode[], opType: string, inputs: string[], outputs: string[], attributes: OnnxNode['attributes'] = [], domain = ''): void => {
    list.push({ name: `${opType}_${count++}`, opType, domain, inputs, outputs, attributes });
  };
  const int = (name: string, i: number): OnnxNode['attributes'][number] => ({ name, type: 2, i });

  inits.push(int64Tensor('axis0', [1], [0]));
  inits.push({ name: 'zp', dims: [], dataType: OnnxDataType.Uint8, raw: Uint8Array.of(ZERO_POINT) });
  inits.push(floatTensor('one', [], Float32Array.of(1)));

  // Outer graph: the states [L, batch, H] as one [1, batch, H] tensor per layer.
  const layerIds = w.layers.map((_, l) => l);
  const split = (src: string, kind: 'h' | 'c'): string[] => {
    if (L === 1) return [src];
    const parts = layerIds.map((l) => `${kind}0_l${l}`);
    node(outer, 'Split', [src, 'layer_split'], parts, [int('axis', 0)]);
    return parts;
  };
  if (L > 1) inits.push(int64Tensor('layer_split', [L], new Array<number>(L).fill(1)));
  const hIn = split(names.h0, 'h');
  const cIn = split(names.c0, 'c');

  // Scan body: one step of every layer and the heads. x_t is [batch, F].
  node(body, 'Unsqueeze', ['x_t', 'axis0'], ['x_t3']);
  let u = 'x_t3';
  w.layers.forEach((lw, l) => {
    const inSize = l === 0 ? F : H;
    const p = `l${l}`;
    const blocks = (Q: Int8Array, rows: number, g: number): Uint8Array => {
      const block = new Uint8Array(rows * H);
      for (let k = 0; k < rows; k++) for (let j = 0; j < H; j++) block[k * H + j] = Q[k * 4 * H + g * H + j]! + ZERO_POINT;
      return block;
    };
    const part = (a: Float32Array, g: number): Float32Array => a.slice(g * H, (g + 1) * H);
    GATES.forEach((g, gi) => {
      inits.push({ name: int8Names.Qx(l, g), dims: [inSize, H], dataType: OnnxDataType.Uint8, raw: blocks(lw.Qx, inSize, gi) });
      inits.push({ name: int8Names.Qh(l, g), dims: [H, H], dataType: OnnxDataType.Uint8, raw: blocks(lw.Qh, H, gi) });
      inits.push(floatTensor(int8Names.xColScale(l, g), [H], part(lw.xColScale, gi)));
      inits.push(floatTensor(int8Names.hColScale(l, g), [H], part(lw.hColScale, gi)));
      inits.push(floatTensor(int8Names.bias(l, g), [H], part(lw.bias, gi)));
    });
    inits.push(floatTensor(int8Names.hScale(l), [], Float32Array.of(lw.hScale)));
    if (l === 0) {
      const perFeature = lw.inScale.length > 1;
      inits.push(floatTensor(int8Names.inScale(l), perFeature ? [inSize] : [], lw.inScale));
      // Per-axis quantization wants a zero point per feature too.
      if (perFeature) inits.push({ name: 'zp_x', dims: [inSize], dataType: OnnxDataType.Uint8, raw: new Uint8Array(inSize).fill(ZERO_POINT) });
      node(body, 'QuantizeLinear', [u, int8Names.inScale(l), perFeature ? 'zp_x' : 'zp'], [`${p}_qu`], perFeature ? [int('axis', 2)] : []);
    }
    const qu = l === 0 ? `${p}_qu` : `l${l - 1}_qh_next`;
    node(body, 'QuantizeLinear', [`h${l}`, int8Names.hScale(l), 'zp'], [`${p}_qh`]);
    const ms = 'com.microsoft';
    for (const g of GATES) {
      node(body, 'MatMulIntegerToFloat', [qu, int8Names.Qx(l, g), 'one', int8Names.xColScale(l, g), 'zp', 'zp', int8Names.bias(l, g)], [`${p}_${g}_x`], [], ms);
      node(body, 'MatMulIntegerToFloat', [`${p}_qh`, int8Names.Qh(l, g), 'one', int8Names.hColScale(l, g), 'zp', 'zp'], [`${p}_${g}_h`], [], ms);
      node(body, 'Add', [`${p}_${g}_x`, `${p}_${g}_h`], [`${p}_${g}_pre`]);
    }
    for (const g of ['i', 'o', 'f'] as const) node(body, 'Sigmoid', [`${p}_${g}_pre`], [`${p}_${g}`]);
    node(body, 'Tanh', [`${p}_c_pre`], [`${p}_g`]);
    node(body, 'Mul', [`${p}_f`, `c${l}`], [`${p}_fc`]);
    node(body, 'Mul', [`${p}_i`, `${p}_g`], [`${p}_ig`]);
    node(body, 'Add', [`${p}_fc`, `${p}_ig`], [`c${l}_next`]);
    node(body, 'Tanh', [`c${l}_next`], [`${p}_tc`]);
    node(body, 'Mul', [`${p}_o`, `${p}_tc`], [`h${l}_next`]);
    if (l < L - 1) node(body, 'QuantizeLinear', [`h${l}_next`, int8Names.hScale(l), 'zp'], [`${p}_qh_next`]);
    u = `h${l}_next`;
  });
  node(body, 'Squeeze', [u, 'axis0'], ['h_top']);
  const head = (prefix: string, p: LinearWeights, out: string): void => {
    inits.push(floatTensor(`${prefix}_W`, [H, T], transpose(p.W, T, H)));
    inits.push(floatTensor(`${prefix}_b`, [T], p.b));
    node(body, 'MatMul', ['h_top', `${prefix}_W`], [`${prefix}_mm`]);
    node(body, 'Add', [`${prefix}_mm`, `${prefix}_b`], [out]);
  };
  head('head', w.head, 'y_t');
  if (w.logvarHead) head('logvar_head', w.logvarHead, 'ylogvar_t');

  const f32 = (name: string, shape: OnnxValueInfo['shape']): OnnxValueInfo => ({ name, elemType: OnnxDataType.Float, shape });
  const state = (s: string): OnnxValueInfo => f32(s, [1, 'batch', H]);
  const bodyGraph: OnnxGraph = {
    name: 'lstm_step',
    nodes: body,
    initializers: [],
    inputs: [...layerIds.map((l) => state(`h${l}`)), ...layerIds.map((l) => state(`c${l}`)), f32('x_t', ['batch', F])],
    outputs: [
      ...layerIds.map((l) => state(`h${l}_next`)),
      ...layerIds.map((l) => state(`c${l}_next`)),
      f32('y_t', ['batch', T]),
      ...(w.logvarHead ? [f32('ylogvar_t', ['batch', T])] : []),
    ],
  };
  const hLast = L === 1 ? [names.hn] : layerIds.map((l) => `h${l}_last`);
  const cLast = L === 1 ? [names.cn] : layerIds.map((l) => `c${l}_last`);
  outer.push({
    name: 'lstm_scan', opType: 'Scan', domain: '', inputs: [...hIn, ...cIn, names.x], outputs: [...hLast, ...cLast, names.y, ...(w.logvarHead ? [names.ylogvar] : [])],
    attributes: [int('num_scan_inputs', 1), { name: 'body', type: 5, g: bodyGraph }],
  });
  if (L > 1) {
    node(outer, 'Concat', hLast, [names.hn], [int('axis', 0)]);
    node(outer, 'Concat', cLast, [names.cn], [int('axis', 0)]);
  }

  const outputs = [f32(names.y, ['seq', 'batch', T]), f32(names.hn, [L, 'batch', H]), f32(names.cn, [L, 'batch', H])];
  if (w.logvarHead) outputs.push(f32(names.ylogvar, ['seq', 'batch', T]));
  return encodeModel({
    irVersion: 8,
    opsetImports: [{ domain: '', version: 17 }, { domain: 'com.microsoft', version: 1 }],
    producerName: opts.producerName ?? 'edgelstm',
    producerVersion: '',
    graph: {
      name: 'edgelstm',
      nodes: outer,
      initializers: inits,
      inputs: [f32(names.x, ['seq', 'batch', F]), f32(names.h0, [L, 'batch', H]), f32(names.c0, [L, 'batch', H])],
      outputs,
    },
    metadata: new Map(Object.entries(opts.metadata ?? {})),
  });
}
