import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { EdgeLstmError, ModelError } from '../errors';
import { decodeModel } from '../onnx/decode';
import { extractLstmWeights } from '../onnx/extract-weights';
import { OnnxDataType, type OnnxModel, type OnnxValueInfo } from '../onnx/types';
import type { BackendKind, BackendOptions, LstmBackend } from '../backend/backend';
import { createBackend } from '../backend/create-backend';
import type { ModelDims } from '../backend/ort-backend';
import { parseMetadata, type ModelMetadata } from './metadata';

export interface LoadModelOptions extends BackendOptions {
  /** Which runtime computes the LSTM. Default 'native' (onnxruntime-node). */
  backend?: BackendKind;
  /**
   * Metadata that overrides the file's own: an object, a path to a JSON file,
   * or false to ignore `<model>.json` beside the file. Default: that file if it exists.
   */
  sidecar?: Record<string, unknown> | string | false;
  /** The name errors use when loading from bytes. */
  name?: string;
}

export interface Model {
  /** The file it came from (or the name given for bytes). */
  readonly file: string;
  readonly metadata: ModelMetadata;
  /** `<name>@<version>`, as results carry it. */
  readonly id: string;
  /** SHA-256 of the model bytes, hex. */
  readonly fingerprint: string;
  readonly dims: Readonly<ModelDims>;
  /** Index in `features` of each target. */
  readonly targetIndex: readonly number[];
  readonly hasLogvar: boolean;
  readonly backend: LstmBackend;
  release(): Promise<void>;
}

/** Loads and checks a model; any contract violation is a ModelError naming the file, tensor or key. */
export async function loadModel(source: string | Uint8Array, opts: LoadModelOptions = {}): Promise<Model> {
  const file = typeof source === 'string' ? source : (opts.name ?? '<bytes>');
  let bytes: Uint8Array;
  if (typeof source === 'string') {
    try {
      bytes = readFileSync(source);
    } catch (e) {
      throw new ModelError(`cannot read model file: ${(e as Error).message}`, { file });
    }
  } else {
    bytes = source;
  }
  let onnx: OnnxModel;
  try {
    onnx = decodeModel(bytes);
  } catch (e) {
    throw new ModelError(`not a valid ONNX file (${(e as Error).message})`, { file, expected: 'an ONNX ModelProto', found: `${bytes.length} bytes that do not parse` });
  }
  if (onnx.graph.nodes.length === 0) throw new ModelError('not a valid ONNX file: the graph has no nodes', { file, field: 'graph' });
  const metadata = parseMetadata(onnx.metadata, readSidecar(source, opts.sidecar, file), file);
  const dims = checkGraph(onnx, metadata, file);
  const kind = opts.backend ?? 'native';
  let backend: LstmBackend;
  try {
    backend = await createBackend(kind, bytes, metadata.io, dims, opts, () => extractLstmWeights(onnx, metadata.io, file));
  } catch (e) {
    if (e instanceof EdgeLstmError) throw e;
    throw new ModelError(`ONNX Runtime (${kind}) refused the model: ${(e as Error).message}`, { file });
  }
  const fingerprint = createHash('sha256').update(bytes).digest('hex');
  return {
    file,
    metadata,
    id: `${metadata.name}@${metadata.version}`,
    fingerprint,
    dims,
    targetIndex: metadata.targets.map((t) => metadata.features.indexOf(t)),
    hasLogvar: metadata.io.ylogvar !== undefined,
    backend,
    release: () => backend.release(),
  };
}

function readSidecar(source: string | Uint8Array, sidecar: LoadModelOptions['sidecar'], file: string): Record<string, unknown> | undefined {
  if (sidecar === false) return undefined;
  if (typeof sidecar === 'object') return sidecar;
  let path = sidecar;
  if (path === undefined) {
    if (typeof source !== 'string') return undefined;
    path = source.replace(/\.onnx$/i, '') + '.json';
    if (!existsSync(path)) return undefined;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new ModelError(`sidecar manifest is not readable JSON: ${(e as Error).message}`, { file: path });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ModelError('sidecar manifest must be a JSON object', { file: path, expected: 'an object of edgelstm.* keys', found: typeof parsed });
  }
  void file;
  return parsed as Record<string, unknown>;
}

/** Checks the graph's tensors against the contract and the metadata; returns F, H, L, T. */
function checkGraph(onnx: OnnxModel, m: ModelMetadata, file: string): ModelDims {
  const find = (list: OnnxValueInfo[], name: string, kind: 'input' | 'output'): OnnxValueInfo => {
    const v = list.find((i) => i.name === name);
    if (!v) throw new ModelError(`${kind} tensor is missing`, { file, field: name, expected: `an ${kind} named "${name}" (edgelstm.io)`, found: list.map((i) => i.name).join(', ') || 'none' });
    if (v.elemType !== OnnxDataType.Float) throw new ModelError('tensor is not float32', { file, field: name, expected: 'float32', found: `ONNX data type ${v.elemType}` });
    if (v.shape && v.shape.length !== 3) throw new ModelError('tensor has the wrong rank', { file, field: name, expected: 'rank 3', found: `rank ${v.shape.length} [${v.shape.join(', ')}]` });
    return v;
  };
  const dim = (v: OnnxValueInfo, axis: number): number | undefined => {
    const d = v.shape?.[axis];
    return typeof d === 'number' && d > 0 ? d : undefined;
  };
  const expectDim = (v: OnnxValueInfo, axis: number, want: number, what: string): void => {
    const d = dim(v, axis);
    if (d !== undefined && d !== want) throw new ModelError(`${what} does not match`, { file, field: `${v.name} dim ${axis}`, expected: String(want), found: String(d) });
  };
  const io = m.io;
  const x = find(onnx.graph.inputs, io.x, 'input');
  const h0 = find(onnx.graph.inputs, io.h0, 'input');
  const c0 = find(onnx.graph.inputs, io.c0, 'input');
  const y = find(onnx.graph.outputs, io.y, 'output');
  const hn = find(onnx.graph.outputs, io.hn, 'output');
  const cn = find(onnx.graph.outputs, io.cn, 'output');
  const extra = onnx.graph.inputs.filter((i) => ![io.x, io.h0, io.c0].includes(i.name)).map((e) => e.name);
  if (extra.length) throw new ModelError('graph has inputs the contract does not feed', { file, field: 'graph inputs', expected: `only ${io.x}, ${io.h0}, ${io.c0}`, found: extra.join(', ') });
  const F = m.features.length;
  const T = m.targets.length;
  expectDim(x, 2, F, 'feature count (edgelstm.features)');
  expectDim(y, 2, T, 'target count (edgelstm.targets)');
  const L = dim(h0, 0) ?? dim(hn, 0);
  const H = dim(h0, 2) ?? dim(hn, 2);
  if (L === undefined || H === undefined) {
    throw new ModelError('cannot tell the number of layers and hidden size', { file, field: io.h0, expected: '[L, batch, H] with L and H fixed', found: `[${(h0.shape ?? []).join(', ')}]` });
  }
  for (const v of [c0, hn, cn]) {
    expectDim(v, 0, L, 'layer count');
    expectDim(v, 2, H, 'hidden size');
  }
  if (io.ylogvar !== undefined) expectDim(find(onnx.graph.outputs, io.ylogvar, 'output'), 2, T, 'target count');
  return { F, H, L, T };
}
