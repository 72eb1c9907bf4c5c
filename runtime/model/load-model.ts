import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { EdgeLstmError, ModelError } from '../errors';
import { decodeOnnxFile } from '../onnx/decode';
import { extractLstmWeights } from '../onnx/extract-weights';
import { extractStaticInt8 } from '../onnx/extract-int8';
import { OnnxDataType, type OnnxModel, type OnnxValueInfo } from '../onnx/types';
import type { BackendOptions, LstmBackend } from '../backend/backend';
import { chooseBackend, type BackendChoice, type BackendReport } from '../backend/choose-backend';
import type { ModelDims } from '../contract/dims';
import type { ReferenceWeights } from '../backend/reference-backend';
import type { LstmWeights } from '../contract/weights';
import type { CellKind, SequenceLayout } from '../contract/cell';
import { readRecurrentGraph } from '../onnx/recurrent-graph';
import { parseMetadata, type ModelMetadata } from './metadata';

export interface LoadModelOptions extends BackendOptions {
  /**
   * Which runtime computes the LSTM. Default 'auto': onnxruntime-node where it is installed,
   * loads and agrees with the reference LSTM on a probe batch; the wasm build shipped with edgelstm otherwise.
   */
  backend?: BackendChoice;
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
  /** 'lstm' keeps h and c per device, 'gru' only h. */
  readonly cell: CellKind;
  /** How x and y are laid out in the graph (the engine's buffers are always seq-first). */
  readonly layout: SequenceLayout;
  /** Index in `features` of each target. */
  readonly targetIndex: readonly number[];
  readonly hasLogvar: boolean;
  readonly backend: LstmBackend;
  /** Which backend was asked for, which one runs, and why. */
  readonly backendChoice: Readonly<BackendReport>;
  /** The LSTM and head weights, read from the graph on demand (continual learning starts from them). */
  readonly weights?: () => LstmWeights;
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
  const onnx = decodeOnnxFile(bytes, file);
  if (onnx.graph.nodes.length === 0) throw new ModelError('not a valid ONNX file: the graph has no nodes', { file, field: 'graph' });
  const metadata = parseMetadata(onnx.metadata, readSidecar(source, opts.sidecar, file), file);
  const { dims, cell, layout } = checkGraph(onnx, metadata, file);
  const kind = opts.backend ?? 'auto';
  let backend: LstmBackend;
  let backendChoice: BackendReport;
  try {
    // The int8-static form has no LSTM op: the reference reads its integer matrices and scales instead.
    const weights = (): LstmWeights | ReferenceWeights =>
      metadata.quantization.scheme === 'int8-static' ? { kind: 'int8-static', weights: extractStaticInt8(onnx, file) } : extractLstmWeights(onnx, metadata.io, file);
    const { backend: chosen, ...report } = await chooseBackend(kind, bytes, metadata.io, dims, opts, weights, { cell, layout });
    backend = chosen;
    backendChoice = report;
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
    cell,
    layout,
    targetIndex: metadata.targets.map((t) => metadata.features.indexOf(t)),
    hasLogvar: metadata.io.ylogvar !== undefined,
    backend,
    backendChoice,
    weights: () => extractLstmWeights(onnx, metadata.io, file),
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

/** What the loader settles about a model's graph: its sizes, its cell and the layout of x and y. */
export interface GraphShape {
  dims: ModelDims;
  cell: CellKind;
  layout: SequenceLayout;
}

/**
 * Checks the graph's tensors and recurrent nodes against the contract and the
 * metadata (DESIGN.md section 2); returns F, H, L, T, the cell and the layout.
 * `inspect` runs this same check, so it reports what loading would.
 */
export function checkGraph(onnx: OnnxModel, m: ModelMetadata, file: string): GraphShape {
  const io = m.io;
  const inputs = onnx.graph.inputs;
  const rec = readRecurrentGraph(onnx, io.x, file);
  const cell: CellKind = rec.cell ?? (io.c0 !== undefined ? 'lstm' : 'gru');
  if (cell === 'gru' && io.c0 !== undefined) {
    throw new ModelError('the graph is a GRU, which has no cell state, but edgelstm.io names c0/cn as for an LSTM; remove "c0" and "cn" from edgelstm.io', { file, field: 'edgelstm.io', expected: 'x, h0, y, hn (no c0, cn) for a GRU', found: JSON.stringify(io) });
  }
  if (cell === 'lstm' && io.c0 === undefined) {
    throw new ModelError('the graph is an LSTM, which carries a cell state, but edgelstm.io names no c0/cn', { file, field: 'edgelstm.io', expected: 'x, h0, c0, y, hn, cn for an LSTM', found: JSON.stringify(io) });
  }
  const stateNames = cell === 'lstm' ? `${io.h0} and ${io.c0!}` : io.h0;
  const find = (list: OnnxValueInfo[], name: string, kind: 'input' | 'output'): OnnxValueInfo => {
    const v = list.find((i) => i.name === name);
    if (!v) {
      const found = list.map((i) => i.name).join(', ') || 'none';
      if (kind === 'input' && name !== io.x && list.length === 1) {
        throw new ModelError(`the graph takes no state input: the model was exported without ${stateNames} as inputs, so it starts every call from zeros and cannot carry a device's memory; pass the state to forward() and to torch.onnx.export`, { file, field: name, expected: `inputs ${io.x}, ${stateNames}`, found });
      }
      throw new ModelError(`${kind} tensor is missing`, { file, field: name, expected: `an ${kind} named "${name}" (edgelstm.io)`, found });
    }
    if (v.elemType !== OnnxDataType.Float) throw new ModelError('tensor is not float32', { file, field: name, expected: 'float32', found: `ONNX data type ${v.elemType}` });
    if (v.shape && v.shape.length !== 3) {
      if (v.shape.length === 2 && (name === io.y || name === io.ylogvar)) {
        throw new ModelError('the head sees only the last step: the output is [batch, T], the contract needs a prediction for every step, [seq, batch, T]; apply the linear head to the whole output sequence (head(y), not head(y[-1]))', { file, field: name, expected: 'rank 3 [seq, batch, T]', found: `rank 2 [${v.shape.join(', ')}]` });
      }
      throw new ModelError('tensor has the wrong rank', { file, field: name, expected: 'rank 3', found: `rank ${v.shape.length} [${v.shape.join(', ')}]` });
    }
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
  const x = find(inputs, io.x, 'input');
  const h0 = find(inputs, io.h0, 'input');
  const c0 = io.c0 !== undefined ? find(inputs, io.c0, 'input') : undefined;
  const y = find(onnx.graph.outputs, io.y, 'output');
  const hn = find(onnx.graph.outputs, io.hn, 'output');
  const cn = io.cn !== undefined ? find(onnx.graph.outputs, io.cn, 'output') : undefined;
  const fed = [io.x, io.h0, ...(io.c0 !== undefined ? [io.c0] : [])];
  const extra = inputs.filter((i) => !fed.includes(i.name)).map((e) => e.name);
  if (extra.length) throw new ModelError('graph has inputs the contract does not feed', { file, field: 'graph inputs', expected: `only ${fed.join(', ')}`, found: extra.join(', ') });
  if (m.layout !== undefined && rec.layout !== undefined && m.layout !== rec.layout) {
    throw new ModelError('edgelstm.layout contradicts the graph', { file, field: 'edgelstm.layout', expected: `"${rec.layout}" (as the graph feeds ${io.x} to its first cell)`, found: `"${m.layout}"` });
  }
  const layout: SequenceLayout = m.layout ?? rec.layout ?? 'seq-first';
  const batchAxis = layout === 'batch-first' ? 0 : 1;
  const F = m.features.length;
  const T = m.targets.length;
  expectDim(x, 2, F, 'feature count (edgelstm.features)');
  expectDim(y, 2, T, 'target count (edgelstm.targets)');
  const L = dim(h0, 0) ?? dim(hn, 0);
  const H = dim(h0, 2) ?? dim(hn, 2);
  if (L === undefined || H === undefined) {
    throw new ModelError('cannot tell the number of layers and hidden size', { file, field: io.h0, expected: '[L, batch, H] with L and H fixed', found: `[${(h0.shape ?? []).join(', ')}]` });
  }
  const states = [h0, hn, ...(c0 ? [c0] : []), ...(cn ? [cn] : [])];
  for (const v of states) {
    expectDim(v, 0, L, 'layer count');
    expectDim(v, 2, H, 'hidden size');
  }
  // A fixed batch axis fails the first time two devices share a call.
  for (const [v, axis] of [[x, batchAxis], [y, batchAxis], ...states.map((s) => [s, 1] as const)] as const) {
    const d = v.shape?.[axis];
    if (typeof d === 'number' && d > 0) {
      throw new ModelError(`the batch axis of ${v.name} is fixed at ${d}: the engine batches devices, so batch must be a dynamic axis; export with dynamic_axes naming it (and seq) for every input and output`, { file, field: `${v.name} dim ${axis}`, expected: 'a dynamic axis (a name such as "batch")', found: String(d) });
    }
  }
  if (io.ylogvar !== undefined) expectDim(find(onnx.graph.outputs, io.ylogvar, 'output'), 2, T, 'target count');
  return { dims: { F, H, L, T }, cell, layout };
}
