import { loadModel } from '../../runtime/model/load-model';
import { encodeMetadata, parseMetadata, type ModelMetadata } from '../../runtime/model/metadata';
import { decodeOnnxFile } from '../../runtime/onnx/decode';
import { replaceMetadataProps } from './metadata-props';
import type { BackendKind } from '../../runtime/backend/backend';

export interface ImportOptions {
  /** Names the model in errors. */
  file: string;
  /** Names the manifest in errors. */
  manifestFile: string;
  /** Which runtime must accept the result. Default 'native': what a server or board runs. */
  verifyWith?: BackendKind;
}

export interface ImportResult {
  bytes: Uint8Array;
  metadata: ModelMetadata;
}

/**
 * Folds a manifest into a model's `metadata_props`, so one file is enough.
 * The manifest wins over the file's own keys (as a sidecar does at load);
 * metadata_props that are not edgelstm's (a producer's own notes) are kept.
 * The result is loaded before it is returned: the same metadata and graph
 * checks as loadModel, and ONNX Runtime's own session creation.
 */
export async function importManifest(bytes: Uint8Array, manifest: Record<string, unknown>, opts: ImportOptions): Promise<ImportResult> {
  const onnx = decodeOnnxFile(bytes, opts.file);
  // Errors about metadata name the manifest: that is the file the user edits.
  const metadata = parseMetadata(onnx.metadata, manifest, opts.manifestFile);
  const props = new Map<string, string>();
  for (const [k, v] of onnx.metadata) if (!k.startsWith('edgelstm.')) props.set(k, v);
  for (const [k, v] of Object.entries(encodeMetadata(metadata))) props.set(k, v);
  const out = replaceMetadataProps(bytes, props);
  const model = await loadModel(out, { sidecar: false, backend: opts.verifyWith ?? 'native', name: opts.file });
  await model.release();
  return { bytes: out, metadata };
}
