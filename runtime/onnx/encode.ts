import { ProtoWriter } from './protobuf';
import type { OnnxAttribute, OnnxGraph, OnnxModel, OnnxNode, OnnxTensor, OnnxValueInfo } from './types';

/** Encodes a model. Everything decodeModel reads round-trips. */
export function encodeModel(model: OnnxModel): Uint8Array {
  const w = new ProtoWriter().int(1, model.irVersion);
  for (const o of model.opsetImports) {
    const ow = new ProtoWriter();
    if (o.domain) ow.string(1, o.domain);
    w.message(8, ow.int(2, o.version));
  }
  if (model.producerName) w.string(2, model.producerName);
  if (model.producerVersion) w.string(3, model.producerVersion);
  w.message(7, encodeGraph(model.graph));
  for (const [k, v] of model.metadata) w.message(14, new ProtoWriter().string(1, k).string(2, v));
  return w.finish();
}

function encodeGraph(g: OnnxGraph): ProtoWriter {
  const w = new ProtoWriter();
  for (const n of g.nodes) w.message(1, encodeNode(n));
  w.string(2, g.name);
  for (const t of g.initializers) w.message(5, encodeTensor(t));
  for (const i of g.inputs) w.message(11, encodeValueInfo(i));
  for (const o of g.outputs) w.message(12, encodeValueInfo(o));
  return w;
}

function encodeNode(n: OnnxNode): ProtoWriter {
  const w = new ProtoWriter();
  for (const i of n.inputs) w.string(1, i);
  for (const o of n.outputs) w.string(2, o);
  if (n.name) w.string(3, n.name);
  w.string(4, n.opType);
  for (const a of n.attributes) w.message(5, encodeAttribute(a));
  if (n.domain) w.string(7, n.domain);
  return w;
}

function encodeAttribute(a: OnnxAttribute): ProtoWriter {
  const w = new ProtoWriter().string(1, a.name);
  if (a.f !== undefined) w.float(2, a.f);
  if (a.i !== undefined) w.int(3, a.i);
  if (a.s !== undefined) w.string(4, a.s);
  if (a.t !== undefined) w.message(5, encodeTensor(a.t));
  if (a.g !== undefined) w.message(6, encodeGraph(a.g));
  for (const f of a.floats ?? []) w.float(7, f);
  if (a.ints) w.packedInts(8, a.ints);
  for (const s of a.strings ?? []) w.string(9, s);
  return w.int(20, a.type);
}

export function encodeTensor(t: OnnxTensor): ProtoWriter {
  const w = new ProtoWriter();
  if (t.dims.length) w.packedInts(1, t.dims);
  w.int(2, t.dataType);
  if (t.name) w.string(8, t.name);
  return w.bytes(9, t.raw);
}

function encodeValueInfo(v: OnnxValueInfo): ProtoWriter {
  const tensorType = new ProtoWriter().int(1, v.elemType);
  if (v.shape) {
    const shape = new ProtoWriter();
    for (const d of v.shape) {
      const dw = new ProtoWriter();
      if (typeof d === 'number') dw.int(1, d);
      else if (typeof d === 'string') dw.string(2, d);
      shape.message(1, dw);
    }
    tensorType.message(2, shape);
  }
  return new ProtoWriter().string(1, v.name).message(2, new ProtoWriter().message(1, tensorType));
}
