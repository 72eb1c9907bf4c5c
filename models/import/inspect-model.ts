import { createHash } from 'node:crypto';
import type { ModelDims } from '../../runtime/contract/dims';
import { loadModel } from '../../runtime/model/load-model';
import { parseMetadata, type Quantization } from '../../runtime/model/metadata';
import type { CellKind, SequenceLayout } from '../../runtime/contract/cell';
import { decodeModel } from '../../runtime/onnx/decode';
import type { OnnxDim, OnnxModel } from '../../runtime/onnx/types';

const DATA_TYPES: Record<number, [string, number]> = {
  1: ['float32', 4], 2: ['uint8', 1], 3: ['int8', 1], 5: ['int16', 2], 6: ['int32', 4], 7: ['int64', 8], 9: ['bool', 1], 10: ['float16', 2], 11: ['float64', 8],
};

export interface TensorSummary {
  name: string;
  type: string;
  shape: OnnxDim[] | null;
}

export interface InitializerSummary {
  name: string;
  type: string;
  dims: number[];
  bytes: number;
}

/** What `edgelstm inspect` reports; also its `--json` output. */
export interface ModelReport {
  file: string;
  bytes: number;
  /** SHA-256 of the file's bytes, hex: the model fingerprint (DESIGN.md section 2). */
  sha256: string;
  irVersion: number;
  opsets: { domain: string; version: number }[];
  producer: string;
  inputs: TensorSummary[];
  outputs: TensorSummary[];
  initializers: InitializerSummary[];
  /** Bytes of initializer data by element type. */
  weightBytes: Record<string, number>;
  opCounts: Record<string, number>;
  /** metadata_props as stored, JSON values parsed where they parse. */
  metadata: Record<string, unknown>;
  quantization: Quantization | null;
  /** null when the model loads, else exactly what the loader says when it refuses it. */
  contractError: string | null;
  /** What the loader settled, when it accepts the model. */
  loaded: { id: string; cell: CellKind; layout: SequenceLayout; dims: ModelDims } | null;
}

/**
 * Runs the loader's whole check (metadata, graph, recurrent attributes and
 * ONNX Runtime's own session creation) on the bytes: the report then says
 * exactly what `loadModel`, `run` and `replay` would.
 */
export async function checkWithLoader(report: ModelReport, bytes: Uint8Array, sidecar: Record<string, unknown> | undefined): Promise<ModelReport> {
  try {
    const m = await loadModel(bytes, { name: report.file, sidecar: sidecar ?? false });
    await m.release();
    return { ...report, contractError: null, loaded: { id: m.id, cell: m.cell, layout: m.layout, dims: { ...m.dims } } };
  } catch (e) {
    return { ...report, contractError: (e as Error).message, loaded: null };
  }
}

export function inspectModel(bytes: Uint8Array, file: string, sidecar?: Record<string, unknown>): ModelReport {
  const onnx: OnnxModel = decodeModel(bytes);
  const g = onnx.graph;
  const typeName = (t: number): string => DATA_TYPES[t]?.[0] ?? `type ${t}`;
  const opCounts: Record<string, number> = {};
  for (const n of g.nodes) {
    const op = n.domain && n.domain !== 'ai.onnx' ? `${n.domain}.${n.opType}` : n.opType;
    opCounts[op] = (opCounts[op] ?? 0) + 1;
  }
  const weightBytes: Record<string, number> = {};
  for (const t of g.initializers) weightBytes[typeName(t.dataType)] = (weightBytes[typeName(t.dataType)] ?? 0) + t.raw.length;
  const metadata: Record<string, unknown> = {};
  for (const [k, v] of onnx.metadata) {
    try {
      metadata[k] = JSON.parse(v);
    } catch {
      metadata[k] = v;
    }
  }
  let quantization: Quantization | null = null;
  let contractError: string | null = null;
  try {
    quantization = parseMetadata(onnx.metadata, sidecar, file).quantization;
  } catch (e) {
    contractError = (e as Error).message;
  }
  return {
    file,
    bytes: bytes.length,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    irVersion: onnx.irVersion,
    opsets: onnx.opsetImports,
    producer: [onnx.producerName, onnx.producerVersion].filter(Boolean).join(' '),
    inputs: g.inputs.map((i) => ({ name: i.name, type: typeName(i.elemType), shape: i.shape })),
    outputs: g.outputs.map((o) => ({ name: o.name, type: typeName(o.elemType), shape: o.shape })),
    initializers: g.initializers.map((t) => ({ name: t.name, type: typeName(t.dataType), dims: t.dims, bytes: t.raw.length })),
    weightBytes,
    opCounts,
    metadata,
    quantization,
    contractError,
    loaded: null,
  };
}

const shape = (s: OnnxDim[] | null): string => (s ? `[${s.map((d) => (d === null ? '?' : String(d))).join(', ')}]` : '(no shape)');

/** The report as a person reads it. */
export function formatReport(r: ModelReport): string {
  const lines = [
    `${r.file}`,
    `  size         ${r.bytes} bytes`,
    `  sha256       ${r.sha256}`,
    `  producer     ${r.producer || '(none)'}, IR ${r.irVersion}, opsets ${r.opsets.map((o) => `${o.domain || 'ai.onnx'} ${o.version}`).join(', ')}`,
    `  quantization ${r.quantization ? JSON.stringify(r.quantization) : '(unknown: metadata incomplete)'}`,
    `  contract     ${r.contractError ?? 'ok'}`,
    ...(r.loaded ? [`  cell         ${r.loaded.cell.toUpperCase()}, ${r.loaded.layout}, F=${r.loaded.dims.F} H=${r.loaded.dims.H} L=${r.loaded.dims.L} T=${r.loaded.dims.T}`] : []),
    '',
    'Inputs:',
    ...r.inputs.map((i) => `  ${i.name.padEnd(20)} ${i.type.padEnd(8)} ${shape(i.shape)}`),
    'Outputs:',
    ...r.outputs.map((o) => `  ${o.name.padEnd(20)} ${o.type.padEnd(8)} ${shape(o.shape)}`),
    `Initializers (${r.initializers.length}; ${Object.entries(r.weightBytes).map(([t, b]) => `${b} bytes ${t}`).join(', ')}):`,
    ...r.initializers.map((t) => `  ${t.name.padEnd(28)} ${t.type.padEnd(8)} [${t.dims.join(', ')}]`.padEnd(58) + ` ${t.bytes} bytes`),
    'Ops:',
    ...Object.entries(r.opCounts).map(([op, n]) => `  ${op.padEnd(28)} ${n}`),
    'Metadata (in the file):',
    ...(Object.keys(r.metadata).length === 0 ? ['  (none)'] : Object.entries(r.metadata).map(([k, v]) => `  ${k.padEnd(24)} ${truncate(JSON.stringify(v))}`)),
  ];
  return lines.join('\n');
}

function truncate(s: string): string {
  return s.length > 160 ? `${s.slice(0, 157)}...` : s;
}
