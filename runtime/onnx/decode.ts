import { ModelError } from '../errors';
import { ProtoReader, WireType, decodePackedVarints, decodeString, type Field } from './protobuf';
import { OnnxDataType, type OnnxAttribute, type OnnxDim, type OnnxGraph, type OnnxModel, type OnnxNode, type OnnxTensor, type OnnxValueInfo } from './types';

/** Decodes the parts of an ONNX ModelProto edgelstm uses. Throws ProtobufError on malformed bytes. */
export function decodeModel(bytes: Uint8Array): OnnxModel {
  const model: OnnxModel = {
    irVersion: 0,
    opsetImports: [],
    producerName: '',
    producerVersion: '',
    graph: { name: '', nodes: [], initializers: [], inputs: [], outputs: [] },
    metadata: new Map(),
  };
  for (const f of new ProtoReader(bytes).fields()) {
    switch (f.number) {
      case 1: model.irVersion = f.varint; break;
      case 2: model.producerName = decodeString(f.bytes); break;
      case 3: model.producerVersion = decodeString(f.bytes); break;
      case 7: model.graph = decodeGraph(f.bytes); break;
      case 8: model.opsetImports.push(decodeOpset(f.bytes)); break;
      case 14: {
        const [k, v] = decodeStringPair(f.bytes);
        model.metadata.set(k, v);
        break;
      }
      default: break;
    }
  }
  return model;
}

function decodeOpset(bytes: Uint8Array): { domain: string; version: number } {
  const o = { domain: '', version: 0 };
  for (const f of new ProtoReader(bytes).fields()) {
    if (f.number === 1) o.domain = decodeString(f.bytes);
    else if (f.number === 2) o.version = f.varint;
  }
  return o;
}

function decodeStringPair(bytes: Uint8Array): [string, string] {
  let k = '';
  let v = '';
  for (const f of new ProtoReader(bytes).fields()) {
    if (f.number === 1) k = decodeString(f.bytes);
    else if (f.number === 2) v = decodeString(f.bytes);
  }
  return [k, v];
}

function decodeGraph(bytes: Uint8Array): OnnxGraph {
  const g: OnnxGraph = { name: '', nodes: [], initializers: [], inputs: [], outputs: [] };
  for (const f of new ProtoReader(bytes).fields()) {
    switch (f.number) {
      case 1: g.nodes.push(decodeNode(f.bytes)); break;
      case 2: g.name = decodeString(f.bytes); break;
      case 5: g.initializers.push(decodeTensor(f.bytes)); break;
      case 11: g.inputs.push(decodeValueInfo(f.bytes)); break;
      case 12: g.outputs.push(decodeValueInfo(f.bytes)); break;
      default: break;
    }
  }
  // Old exporters list initializers among the inputs; they are not inputs a caller feeds.
  const init = new Set(g.initializers.map((t) => t.name));
  g.inputs = g.inputs.filter((i) => !init.has(i.name));
  return g;
}

function decodeNode(bytes: Uint8Array): OnnxNode {
  const n: OnnxNode = { name: '', opType: '', domain: '', inputs: [], outputs: [], attributes: [] };
  for (const f of new ProtoReader(bytes).fields()) {
    switch (f.number) {
      case 1: n.inputs.push(decodeString(f.bytes)); break;
      case 2: n.outputs.push(decodeString(f.bytes)); break;
      case 3: n.name = decodeString(f.bytes); break;
      case 4: n.opType = decodeString(f.bytes); break;
      case 5: n.attributes.push(decodeAttribute(f.bytes)); break;
      case 7: n.domain = decodeString(f.bytes); break;
      default: break;
    }
  }
  return n;
}

function decodeAttribute(bytes: Uint8Array): OnnxAttribute {
  const a: OnnxAttribute = { name: '', type: 0 };
  for (const f of new ProtoReader(bytes).fields()) {
    switch (f.number) {
      case 1: a.name = decodeString(f.bytes); break;
      case 2: a.f = readFloat(f); break;
      case 3: a.i = f.varint; break;
      case 4: a.s = decodeString(f.bytes); break;
      case 5: a.t = decodeTensor(f.bytes); break;
      case 6: a.g = decodeGraph(f.bytes); break;
      case 7: (a.floats ??= []).push(...readFloats(f)); break;
      case 8: (a.ints ??= []).push(...decodePackedVarints(f)); break;
      case 9: (a.strings ??= []).push(decodeString(f.bytes)); break;
      case 20: a.type = f.varint; break;
      default: break;
    }
  }
  return a;
}

function readFloat(f: Field): number {
  return new DataView(f.bytes.buffer, f.bytes.byteOffset, 4).getFloat32(0, true);
}

function readFloats(f: Field): number[] {
  if (f.wireType === WireType.Fixed32) return [readFloat(f)];
  const dv = new DataView(f.bytes.buffer, f.bytes.byteOffset, f.bytes.byteLength);
  const out: number[] = [];
  for (let i = 0; i + 4 <= f.bytes.byteLength; i += 4) out.push(dv.getFloat32(i, true));
  return out;
}

export function decodeTensor(bytes: Uint8Array): OnnxTensor {
  const t: OnnxTensor = { name: '', dims: [], dataType: 0, raw: new Uint8Array(0) };
  const floats: number[] = [];
  const ints: number[] = [];
  for (const f of new ProtoReader(bytes).fields()) {
    switch (f.number) {
      case 1: t.dims.push(...decodePackedVarints(f)); break;
      case 2: t.dataType = f.varint; break;
      case 4: floats.push(...readFloats(f)); break;
      case 5: case 7: ints.push(...decodePackedVarints(f)); break;
      case 8: t.name = decodeString(f.bytes); break;
      case 9: t.raw = new Uint8Array(f.bytes); break; // a copy: Buffer.slice() would be a view into the file
      case 13: throw new TypeError(`tensor ${t.name || '(unnamed)'}: external data is not supported; save the model as one file`);
      default: break;
    }
  }
  if (t.raw.length === 0 && floats.length > 0) t.raw = new Uint8Array(Float32Array.from(floats).buffer);
  if (t.raw.length === 0 && ints.length > 0) t.raw = typedFromInts(t.dataType, ints);
  return t;
}

function typedFromInts(dataType: number, ints: number[]): Uint8Array {
  switch (dataType) {
    case OnnxDataType.Int8: return new Uint8Array(Int8Array.from(ints).buffer);
    case OnnxDataType.Uint8: return Uint8Array.from(ints);
    case OnnxDataType.Int32: return new Uint8Array(Int32Array.from(ints).buffer);
    case OnnxDataType.Int64: return new Uint8Array(BigInt64Array.from(ints.map((v) => BigInt(v))).buffer);
    default: return new Uint8Array(0);
  }
}

function decodeValueInfo(bytes: Uint8Array): OnnxValueInfo {
  const v: OnnxValueInfo = { name: '', elemType: 0, shape: null };
  for (const f of new ProtoReader(bytes).fields()) {
    if (f.number === 1) v.name = decodeString(f.bytes);
    else if (f.number === 2) {
      for (const tf of new ProtoReader(f.bytes).fields()) {
        if (tf.number !== 1) continue; // tensor_type
        for (const tt of new ProtoReader(tf.bytes).fields()) {
          if (tt.number === 1) v.elemType = tt.varint;
          else if (tt.number === 2) v.shape = decodeShape(tt.bytes);
        }
      }
    }
  }
  return v;
}

function decodeShape(bytes: Uint8Array): OnnxDim[] {
  const dims: OnnxDim[] = [];
  for (const f of new ProtoReader(bytes).fields()) {
    if (f.number !== 1) continue;
    let d: OnnxDim = null;
    for (const df of new ProtoReader(f.bytes).fields()) {
      if (df.number === 1) d = df.varint;
      else if (df.number === 2) d = decodeString(df.bytes);
    }
    dims.push(d);
  }
  return dims;
}

/** The one error for bytes that are not an ONNX model: E_MODEL, naming the file and what the parser said. */
export function invalidOnnxError(file: string, byteLength: number, cause: unknown): ModelError {
  return new ModelError(`not a valid ONNX file (${(cause as Error)?.message ?? String(cause)})`, { file, expected: 'an ONNX ModelProto', found: `${byteLength} bytes that do not parse` });
}

/** decodeModel, or invalidOnnxError naming `file`. */
export function decodeOnnxFile(bytes: Uint8Array, file: string): OnnxModel {
  try {
    return decodeModel(bytes);
  } catch (e) {
    throw invalidOnnxError(file, bytes.length, e);
  }
}
