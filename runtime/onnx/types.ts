/** The parts of an ONNX ModelProto that edgelstm reads and writes (onnx.proto, IR version 8+). */

export const enum OnnxDataType {
  Float = 1,
  Uint8 = 2,
  Int8 = 3,
  Int32 = 6,
  Int64 = 7,
}

export interface OnnxTensor {
  name: string;
  dims: number[];
  dataType: number;
  /** Little-endian element bytes (raw_data, or the typed repeated field re-encoded). */
  raw: Uint8Array;
}

/** A dimension: a fixed size, a symbolic name (dynamic axis), or unknown. */
export type OnnxDim = number | string | null;

export interface OnnxValueInfo {
  name: string;
  elemType: number;
  /** null when the value has no shape information at all. */
  shape: OnnxDim[] | null;
}

export interface OnnxAttribute {
  name: string;
  /** AttributeProto.AttributeType: FLOAT=1 INT=2 STRING=3 TENSOR=4 GRAPH=5 FLOATS=6 INTS=7 STRINGS=8. */
  type: number;
  f?: number;
  i?: number;
  s?: string;
  t?: OnnxTensor;
  /** A subgraph (the body of Scan, Loop, If). */
  g?: OnnxGraph;
  floats?: number[];
  ints?: number[];
  strings?: string[];
}

export interface OnnxNode {
  name: string;
  opType: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  attributes: OnnxAttribute[];
}

export interface OnnxGraph {
  name: string;
  nodes: OnnxNode[];
  initializers: OnnxTensor[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
}

export interface OnnxModel {
  irVersion: number;
  opsetImports: { domain: string; version: number }[];
  producerName: string;
  producerVersion: string;
  graph: OnnxGraph;
  /** metadata_props, in file order. */
  metadata: Map<string, string>;
}

export function tensorFloats(t: OnnxTensor): Float32Array {
  if (t.dataType !== OnnxDataType.Float) throw new TypeError(`tensor ${t.name}: expected float32, found data type ${t.dataType}`);
  // new Uint8Array(view) copies into a buffer of its own, whatever the view's offset (Buffer.slice() would not).
  const copy = new Uint8Array(t.raw);
  return new Float32Array(copy.buffer, 0, copy.length / 4);
}

export function floatTensor(name: string, dims: number[], data: Float32Array): OnnxTensor {
  return { name, dims, dataType: OnnxDataType.Float, raw: new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength)) };
}

export function int64Tensor(name: string, dims: number[], data: readonly number[]): OnnxTensor {
  const a = new BigInt64Array(data.map((v) => BigInt(v)));
  return { name, dims, dataType: OnnxDataType.Int64, raw: new Uint8Array(a.buffer) };
}
