import { ModelError } from '../errors';
import { transpose } from './transpose';
import type { TensorNames } from '../contract/tensor-names';
import type { LinearWeights, LstmLayerWeights, LstmWeights } from '../contract/weights';
import { halfValue } from './half';
import { dequantizeStaticInt8, extractStaticInt8, isStaticInt8 } from './extract-int8';
import { isRecurrentNode } from './recurrent-graph';
import { readCellAttributes } from './cell-attributes';
import { OnnxDataType, tensorFloats, type OnnxModel, type OnnxNode, type OnnxTensor } from './types';

/**
 * Reads the LSTM (or GRU) and head weights back out of a model graph: the shape that
 * buildLstmModel writes and torch.onnx.export makes of nn.LSTM/nn.GRU + nn.Linear
 * (LSTM or GRU ops, then MatMul+Add or Gemm), with peepholes and every attribute. Int8 weights are dequantized, whether
 * behind DequantizeLinear, stored as Cast(int8) * scale (what `edgelstm
 * quantize` writes) or held by DynamicQuantizeLSTM; float16 constants, and
 * biases padded with zeros, are read too. Used by the reference backend and
 * by `quantize`.
 */
export function extractLstmWeights(model: OnnxModel, io: TensorNames, file: string): LstmWeights {
  const g = model.graph;
  const inits = new Map(g.initializers.map((t) => [t.name, t]));
  const producer = new Map<string, OnnxNode>();
  for (const n of g.nodes) for (const o of n.outputs) producer.set(o, n);
  const constant = (name: string, what: string): { data: Float32Array; dims: number[] } => {
    const t = inits.get(name);
    if (t) return { data: tensorFloats(t), dims: t.dims };
    const p = producer.get(name);
    if (p?.opType === 'DequantizeLinear') return dequantize(p, inits, file, (scale) => constant(scale, `${what} scale`).data);
    // int8 and float16 constants cast to float32 (`edgelstm quantize` stores weights, scales and biases so).
    const castTo = p?.opType === 'Cast' ? p.attributes.find((a) => a.name === 'to')?.i : undefined;
    const src = castTo === OnnxDataType.Float && p ? inits.get(p.inputs[0]!) : undefined;
    if (src?.dataType === FLOAT16) return { data: halfToFloats(src), dims: src.dims };
    if (src?.dataType === OnnxDataType.Int8) return { data: Float32Array.from(new Int8Array(src.raw.buffer, src.raw.byteOffset, src.raw.byteLength)), dims: src.dims };
    // int8 weights times their scales, broadcast.
    if (p?.opType === 'Mul' && p.inputs.length === 2) return broadcastMul(constant(p.inputs[0]!, what), constant(p.inputs[1]!, what), file, what);
    if (p?.opType === 'Constant') {
      const v = p.attributes.find((a) => a.name === 'value')?.t;
      if (v) return { data: tensorFloats(v), dims: v.dims };
    }
    // `edgelstm quantize` stores an LSTM bias as Wb + Rb padded with zeros.
    if (p?.opType === 'Pad' && p.inputs[1] && inits.has(p.inputs[1]) && !p.inputs[2]) {
      return padWithZeros(constant(p.inputs[0]!, what), inits.get(p.inputs[1])!, file);
    }
    throw new ModelError('weight is not a constant the reference backend can read', { file, field: `${what} (${name})`, expected: 'an initializer', found: p ? `output of ${p.opType}` : 'nothing' });
  };

  // DynamicQuantizeLSTM (ONNX Runtime contrib op) holds int8 weights transposed, [1, inputs, 4H];
  // read back dequantized, the reference computes what the weights say, without the activation quantization.
  const cells = g.nodes.filter(isRecurrentNode);
  // `edgelstm quantize --mode static` unrolls the LSTM into integer products: its weights, dequantized.
  if (cells.length === 0 && isStaticInt8(model)) return dequantizeStaticInt8(extractStaticInt8(model, file));
  if (cells.length === 0) throw new ModelError('graph has no LSTM or GRU node', { file, field: 'graph', expected: 'LSTM or GRU ops', found: g.nodes.map((n) => n.opType).join(',') || 'no nodes' });
  const gru = cells[0]!.opType === 'GRU';
  const G = gru ? 3 : 4;
  const layers: LstmLayerWeights[] = [];
  let inputSize = 0;
  let hiddenSize = 0;
  cells.forEach((n, l) => {
    const dir = n.attributes.find((a) => a.name === 'direction')?.s;
    if (dir !== undefined && dir !== 'forward') throw new ModelError('only forward cells are supported', { file, field: `${n.opType} ${n.name} direction`, expected: 'forward', found: dir });
    const dynamic = n.opType === 'DynamicQuantizeLSTM';
    const W = dynamic ? dynamicWeight(n, 1, 8, inits, file) : constant(n.inputs[1]!, `${n.opType} ${l} W`);
    const R = dynamic ? dynamicWeight(n, 2, 10, inits, file) : constant(n.inputs[2]!, `${n.opType} ${l} R`);
    const H = R.dims[2]!;
    const B = n.inputs[3] ? constant(n.inputs[3], `${n.opType} ${l} B`).data : new Float32Array(2 * G * H);
    if (l === 0) inputSize = W.dims[2]!;
    hiddenSize = H;
    const layer: { -readonly [K in keyof LstmLayerWeights]: LstmLayerWeights[K] } = { W: W.data, R: R.data, Wb: B.slice(0, G * H), Rb: B.slice(G * H) };
    if (!gru && n.inputs[7]) layer.P = constant(n.inputs[7], `${n.opType} ${l} P`).data;
    const attributes = readCellAttributes(n);
    if (Object.keys(attributes).length) layer.attributes = attributes;
    layers.push(layer);
  });

  const skip = readResidual(io.y, io.x, producer, inits);
  const head = readHead(skip?.head ?? io.y, producer, constant, hiddenSize, file);
  const base: LstmWeights = gru ? { cell: 'gru', inputSize, hiddenSize, layers, head } : { inputSize, hiddenSize, layers, head };
  const w: LstmWeights = skip ? { ...base, residual: skip.residual } : base;
  return io.ylogvar !== undefined ? { ...w, logvarHead: readHead(io.ylogvar, producer, constant, hiddenSize, file) } : w;
}

/**
 * A residual head as buildLstmModel writes it: y = Add(head, Gather(x, indices, axis 2)).
 * Returns the head's own output and the gathered features, or undefined for a plain head.
 */
function readResidual(y: string, x: string, producer: Map<string, OnnxNode>, inits: Map<string, OnnxTensor>): { head: string; residual: number[] } | undefined {
  const add = producer.get(y);
  if (add?.opType !== 'Add' || add.inputs.length !== 2) return undefined;
  for (let k = 0; k < 2; k++) {
    const g = producer.get(add.inputs[k]!);
    const axis = g?.attributes.find((a) => a.name === 'axis')?.i;
    const index = g?.opType === 'Gather' && g.inputs[0] === x && (axis === 2 || axis === -1) ? inits.get(g.inputs[1]!) : undefined;
    if (index?.dataType === OnnxDataType.Int64) {
      const raw = new Uint8Array(index.raw);
      return { head: add.inputs[1 - k]!, residual: Array.from(new BigInt64Array(raw.buffer, 0, raw.length / 8), Number) };
    }
  }
  return undefined;
}

type ConstantReader = (name: string, what: string) => { data: Float32Array; dims: number[] };

function readHead(output: string, producer: Map<string, OnnxNode>, constant: ConstantReader, H: number, file: string): LinearWeights {
  const n = producer.get(output);
  if (n?.opType === 'Gemm') {
    const transB = n.attributes.find((a) => a.name === 'transB')?.i === 1;
    const Wt = constant(n.inputs[1]!, `${output} weight`);
    const b = n.inputs[2] ? constant(n.inputs[2], `${output} bias`).data : new Float32Array(Wt.dims[transB ? 0 : 1]!);
    return { W: transB ? Wt.data : transpose(Wt.data, H, b.length), b };
  }
  if (n?.opType === 'Add') {
    const mm = n.inputs.map((i) => producer.get(i)).find((p) => p?.opType === 'MatMul');
    const biasName = n.inputs.find((i) => producer.get(i)?.opType !== 'MatMul')!;
    if (mm) {
      const Wt = constant(mm.inputs[1]!, `${output} weight`); // [H, T]
      const b = constant(biasName, `${output} bias`).data;
      return { W: transpose(Wt.data, H, b.length), b };
    }
  }
  throw new ModelError('head is not a linear layer the reference backend can read', { file, field: output, expected: 'MatMul+Add or Gemm', found: n ? n.opType : 'no producer' });
}

function dequantize(n: OnnxNode, inits: Map<string, OnnxTensor>, file: string, readScale: (name: string) => Float32Array): { data: Float32Array; dims: number[] } {
  const q = inits.get(n.inputs[0]!);
  if (!q || (q.dataType !== OnnxDataType.Int8 && q.dataType !== OnnxDataType.Uint8)) {
    throw new ModelError('DequantizeLinear input is not an int8 initializer', { file, field: n.name, expected: 'int8 weights and float scales', found: q ? `data type ${q.dataType}` : 'nothing' });
  }
  const zpT = n.inputs[2] ? inits.get(n.inputs[2]) : undefined;
  const scales = readScale(n.inputs[1]!);
  const axisAttr = n.attributes.find((a) => a.name === 'axis')?.i ?? 1;
  const axis = axisAttr < 0 ? axisAttr + q.dims.length : axisAttr;
  const values = q.dataType === OnnxDataType.Int8 ? new Int8Array(q.raw.buffer, q.raw.byteOffset, q.raw.byteLength) : q.raw;
  const zp = zpT ? (zpT.dataType === OnnxDataType.Int8 ? new Int8Array(zpT.raw.buffer, zpT.raw.byteOffset, zpT.raw.byteLength) : zpT.raw) : undefined;
  const inner = q.dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const channels = scales.length === 1 ? 1 : q.dims[axis]!;
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const ch = channels === 1 ? 0 : Math.floor(i / inner) % channels;
    out[i] = (values[i]! - (zp ? zp[ch]! : 0)) * scales[ch]!;
  }
  return { data: out, dims: q.dims };
}

/** A DynamicQuantizeLSTM weight ([1, rows, 4H] int8, scale and zero point [1, 4H] or [1]) as LSTM's [1, 4H, rows] floats. */
function dynamicWeight(n: OnnxNode, input: number, scaleInput: number, inits: Map<string, OnnxTensor>, file: string): { data: Float32Array; dims: number[] } {
  const q = inits.get(n.inputs[input]!);
  const s = inits.get(n.inputs[scaleInput] ?? '');
  if (!q || !s || q.dims.length !== 3 || (q.dataType !== OnnxDataType.Int8 && q.dataType !== OnnxDataType.Uint8)) {
    throw new ModelError('DynamicQuantizeLSTM weight is not an int8 initializer', { file, field: `${n.name} input ${input}`, expected: 'int8 [1, inputs, 4H] with float scales', found: q ? `data type ${q.dataType} [${q.dims.join(', ')}]` : 'nothing' });
  }
  const zpT = n.inputs[scaleInput + 1] ? inits.get(n.inputs[scaleInput + 1]!) : undefined;
  const rows = q.dims[1]!;
  const cols = q.dims[2]!;
  const scales = tensorFloats(s);
  const values = q.dataType === OnnxDataType.Int8 ? new Int8Array(q.raw.buffer, q.raw.byteOffset, q.raw.byteLength) : q.raw;
  const zp = zpT ? (zpT.dataType === OnnxDataType.Int8 ? new Int8Array(zpT.raw.buffer, zpT.raw.byteOffset, zpT.raw.byteLength) : zpT.raw) : undefined;
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const ch = scales.length === 1 ? 0 : c;
      out[c * rows + r] = (values[r * cols + c]! - (zp ? zp[ch]! : 0)) * scales[ch]!;
    }
  }
  return { data: out, dims: [1, cols, rows] };
}

const FLOAT16 = 10;

/** a * b with numpy broadcasting, as ONNX Runtime folds a Mul of two constants. */
function broadcastMul(a: { data: Float32Array; dims: number[] }, b: { data: Float32Array; dims: number[] }, file: string, what: string): { data: Float32Array; dims: number[] } {
  const rank = Math.max(a.dims.length, b.dims.length);
  const pad = (d: number[]): number[] => [...new Array<number>(rank - d.length).fill(1), ...d];
  const da = pad(a.dims);
  const db = pad(b.dims);
  const dims = da.map((x, i) => Math.max(x, db[i]!));
  if (da.some((x, i) => x !== dims[i] && x !== 1) || db.some((x, i) => x !== dims[i] && x !== 1)) {
    throw new ModelError('Mul of weights has shapes that do not broadcast', { file, field: what, expected: 'broadcastable shapes', found: `[${a.dims.join(', ')}] * [${b.dims.join(', ')}]` });
  }
  const out = new Float32Array(dims.reduce((x, y) => x * y, 1));
  const idx = new Array<number>(rank).fill(0);
  for (let i = 0; i < out.length; i++) {
    let rem = i;
    for (let k = rank - 1; k >= 0; k--) {
      idx[k] = rem % dims[k]!;
      rem = Math.floor(rem / dims[k]!);
    }
    let ia = 0;
    let ib = 0;
    for (let k = 0; k < rank; k++) {
      ia = ia * da[k]! + (da[k] === 1 ? 0 : idx[k]!);
      ib = ib * db[k]! + (db[k] === 1 ? 0 : idx[k]!);
    }
    out[i] = Math.fround(a.data[ia]! * b.data[ib]!);
  }
  return { data: out, dims };
}

/** IEEE 754 half-precision values (ONNX data type 10) as float32. */
function halfToFloats(t: OnnxTensor): Float32Array {
  const raw = new Uint8Array(t.raw);
  const h = new Uint16Array(raw.buffer, 0, raw.length / 2);
  return Float32Array.from(h, halfValue);
}

/** A constant-mode Pad with zeros (no constant_value input), as ONNX Runtime would fold it. */
function padWithZeros(x: { data: Float32Array; dims: number[] }, padsT: OnnxTensor, file: string): { data: Float32Array; dims: number[] } {
  const raw = new Uint8Array(padsT.raw);
  const pads = Array.from(new BigInt64Array(raw.buffer, 0, raw.length / 8), Number);
  const rank = x.dims.length;
  if (pads.length !== 2 * rank || pads.some((p) => p < 0)) throw new ModelError('Pad of a weight is not a zero padding', { file, field: padsT.name, expected: `${2 * rank} non-negative pads`, found: `[${pads.join(', ')}]` });
  const dims = x.dims.map((d, i) => d + pads[i]! + pads[rank + i]!);
  const out = new Float32Array(dims.reduce((a, b) => a * b, 1));
  const idx = new Array<number>(rank).fill(0);
  for (let i = 0; i < x.data.length; i++) {
    let rem = i;
    for (let a = rank - 1; a >= 0; a--) {
      idx[a] = rem % x.dims[a]!;
      rem = Math.floor(rem / x.dims[a]!);
    }
    let o = 0;
    for (let a = 0; a < rank; a++) o = o * dims[a]! + idx[a]! + pads[a]!;
    out[o] = x.data[i]!;
  }
  return { data: out, dims };
}
