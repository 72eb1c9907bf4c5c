import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_TENSOR_NAMES } from '../../runtime/contract/tensor-names';
import { buildLstmModel } from '../../runtime/onnx/lstm-graph';
import { encodeMetadata, type ModelMetadata, type Normalization } from '../../runtime/model/metadata';
import { randomWeights, type LstmWeights } from '../../runtime/contract/weights';

export interface TestModelOptions {
  features?: string[];
  targets?: string[];
  hidden?: number;
  layers?: number;
  seed?: number;
  logvar?: boolean;
  normalization?: Normalization;
}

export function testMetadata(o: TestModelOptions, w: LstmWeights): ModelMetadata {
  const features = o.features ?? ['value'];
  const io = { x: DEFAULT_TENSOR_NAMES.x, h0: 'h0', c0: 'c0', y: 'y', hn: 'hn', cn: 'cn', ...(w.logvarHead ? { ylogvar: 'y_logvar' } : {}) };
  return {
    format: 1,
    name: 'test',
    version: '1.0.0',
    features,
    targets: o.targets ?? features,
    normalization: o.normalization ?? { mode: 'global', mean: features.map(() => 0), std: features.map(() => 1) },
    io,
    quantization: { scheme: 'none' },
  };
}

/** A random-weight model that meets the contract, as bytes, with the weights it was made from. */
export function makeTestModel(o: TestModelOptions = {}): { bytes: Uint8Array; weights: LstmWeights; metadata: ModelMetadata } {
  const features = o.features ?? ['value'];
  const targets = o.targets ?? features;
  const weights = randomWeights(features.length, o.hidden ?? 8, targets.length, o.layers ?? 1, o.seed ?? 1, o.logvar ?? false);
  const metadata = testMetadata(o, weights);
  return { bytes: buildLstmModel(weights, { metadata: encodeMetadata(metadata) }), weights, metadata };
}

export function tempDir(prefix = 'edgelstm-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function writeTestModel(dir: string, o: TestModelOptions = {}, name = 'model.onnx'): string {
  const p = join(dir, name);
  writeFileSync(p, makeTestModel(o).bytes);
  return p;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
