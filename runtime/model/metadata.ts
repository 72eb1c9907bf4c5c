import { ModelError } from '../errors';
import { SEQUENCE_LAYOUTS, type SequenceLayout } from '../contract/cell';
import type { TensorNames } from '../contract/tensor-names';

export type Normalization =
  | { mode: 'global'; mean: number[]; std: number[] }
  /**
   * Online statistics per device: mean and variance over the device's recent
   * samples (a plain average over the first `window` samples, then an
   * exponential moving average with alpha = 1/window). `minStd` guards flat
   * signals against division by zero.
   */
  | { mode: 'per-device'; window: number; minStd: number };

export type Quantization =
  | { scheme: 'none' }
  /** int8 weights, one scale per output channel, dequantized in the graph; activations stay float32. */
  | { scheme: 'int8-weight'; perChannel: boolean }
  /** ONNX Runtime's DynamicQuantizeLSTM: faster, but a device's outputs depend on its batch-mates. */
  | { scheme: 'int8-dynamic'; perChannel: boolean }
  /**
   * int8 compute with fixed, calibrated activation scales (models/quantize/quantize-static.ts):
   * integer matrix products, float32 gates and cell state; batch-invariant bit for bit.
   */
  | { scheme: 'int8-static'; perChannel: true; batchInvariant: true; scales: { x: number[]; h: number[] }; calibration: Record<string, unknown> };

export interface ModelMetadata {
  format: 1;
  name: string;
  version: string;
  features: string[];
  targets: string[];
  normalization: Normalization;
  io: TensorNames;
  quantization: Quantization;
  /** Declared layout of x and y; the loader detects it from the graph when this is absent. */
  layout?: SequenceLayout;
  training?: Record<string, unknown>;
}

export const METADATA_KEYS = ['format', 'name', 'version', 'features', 'targets', 'normalization', 'io', 'quantization', 'layout', 'training'] as const;

/** Encodes metadata as `metadata_props` (keys prefixed `edgelstm.`, values JSON). */
export function encodeMetadata(m: ModelMetadata): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of METADATA_KEYS) if (m[k] !== undefined) out[`edgelstm.${k}`] = JSON.stringify(m[k]);
  return out;
}

/**
 * Parses and checks metadata from `metadata_props` merged with a sidecar
 * (sidecar wins). Every failure names the file and key, what was expected and found.
 */
export function parseMetadata(props: ReadonlyMap<string, string>, sidecar: Record<string, unknown> | undefined, file: string): ModelMetadata {
  const raw: Record<string, unknown> = {};
  for (const [k, v] of props) {
    if (!k.startsWith('edgelstm.')) continue;
    try {
      raw[k.slice(9)] = JSON.parse(v);
    } catch {
      throw new ModelError('metadata value is not valid JSON', { file, field: k, expected: 'a JSON value', found: truncate(v) });
    }
  }
  for (const [k, v] of Object.entries(sidecar ?? {})) raw[k.startsWith('edgelstm.') ? k.slice(9) : k] = v;

  const need = (key: string): unknown => {
    if (raw[key] === undefined) throw new ModelError('metadata key is missing', { file, field: `edgelstm.${key}`, expected: 'present in metadata_props or a sidecar <model>.json', found: 'nothing' });
    return raw[key];
  };
  const bad = (key: string, expected: string): never => {
    throw new ModelError('metadata value is invalid', { file, field: `edgelstm.${key}`, expected, found: truncate(JSON.stringify(raw[key])) });
  };
  const str = (key: string): string => {
    const v = need(key);
    return typeof v === 'string' && v.length > 0 ? v : bad(key, 'a non-empty string');
  };
  const strList = (key: string): string[] => {
    const v = need(key);
    return Array.isArray(v) && v.length > 0 && v.every((s) => typeof s === 'string' && s.length > 0) ? (v as string[]) : bad(key, 'a non-empty array of names');
  };

  const format = need('format');
  if (format !== 1 && format !== '1') bad('format', '1');
  const features = strList('features');
  if (new Set(features).size !== features.length) bad('features', 'distinct names');
  const targets = strList('targets');
  const missing = targets.filter((t) => !features.includes(t));
  if (missing.length) bad('targets', `a subset of features [${features.join(', ')}]`);
  const version = str('version');
  if (!/^\d+\.\d+\.\d+([-+].*)?$/.test(version)) bad('version', 'a semantic version such as 1.0.0');

  const normalization = parseNormalization(need('normalization'), features.length, () => bad('normalization', `{"mode":"global","mean":[${features.length} numbers],"std":[${features.length} positive numbers]} or {"mode":"per-device","window":N,"minStd":x}`));
  const io = parseIo(need('io'), () => bad('io', 'an object naming the tensors x, h0, y, hn, c0 and cn for an LSTM (none for a GRU), and optionally ylogvar'));
  const quantization = parseQuantization(raw['quantization'] ?? { scheme: 'none' }, () => bad('quantization', '{"scheme":"none"}, {"scheme":"int8-weight",...}, {"scheme":"int8-dynamic",...} or {"scheme":"int8-static","scales":{"x":[...],"h":[...]},...}'));
  const training = raw['training'];
  if (training !== undefined && (typeof training !== 'object' || training === null || Array.isArray(training))) bad('training', 'an object');
  const layout = raw['layout'];
  if (layout !== undefined && !(SEQUENCE_LAYOUTS as readonly unknown[]).includes(layout)) bad('layout', SEQUENCE_LAYOUTS.map((l) => `"${l}"`).join(' or '));
  const out: ModelMetadata = { format: 1, name: str('name'), version, features, targets, normalization, io, quantization };
  if (layout !== undefined) out.layout = layout as SequenceLayout;
  if (training !== undefined) out.training = training as Record<string, unknown>;
  return out;
}

function parseNormalization(v: unknown, F: number, fail: () => never): Normalization {
  if (typeof v !== 'object' || v === null) return fail();
  const o = v as Record<string, unknown>;
  if (o['mode'] === 'global') {
    const mean = o['mean'];
    const std = o['std'];
    const ok = (a: unknown, positive: boolean): a is number[] =>
      Array.isArray(a) && a.length === F && a.every((x) => typeof x === 'number' && Number.isFinite(x) && (!positive || x > 0));
    if (!ok(mean, false) || !ok(std, true)) return fail();
    return { mode: 'global', mean, std };
  }
  if (o['mode'] === 'per-device') {
    const window = o['window'] ?? 1000;
    const minStd = o['minStd'] ?? 1e-3;
    if (typeof window !== 'number' || !Number.isInteger(window) || window < 2) return fail();
    if (typeof minStd !== 'number' || !(minStd > 0)) return fail();
    return { mode: 'per-device', window, minStd };
  }
  return fail();
}

function parseIo(v: unknown, fail: () => never): TensorNames {
  if (typeof v !== 'object' || v === null) return fail();
  const o = v as Record<string, unknown>;
  const name = (k: string): boolean => typeof o[k] === 'string' && o[k] !== '';
  for (const k of ['x', 'h0', 'y', 'hn']) if (!name(k)) return fail();
  // c0 and cn come together (an LSTM) or not at all (a GRU).
  if (name('c0') !== name('cn') || (o['c0'] !== undefined && !name('c0')) || (o['cn'] !== undefined && !name('cn'))) return fail();
  const lstm = name('c0');
  const io: TensorNames = lstm
    ? { x: o['x'] as string, h0: o['h0'] as string, c0: o['c0'] as string, y: o['y'] as string, hn: o['hn'] as string, cn: o['cn'] as string }
    : { x: o['x'] as string, h0: o['h0'] as string, y: o['y'] as string, hn: o['hn'] as string };
  const lv = o['ylogvar'] ?? o['y_logvar'];
  if (lv !== undefined) {
    if (typeof lv !== 'string' || lv === '') return fail();
    io.ylogvar = lv;
  }
  return io;
}

function parseQuantization(v: unknown, fail: () => never): Quantization {
  if (typeof v !== 'object' || v === null) return fail();
  const o = v as Record<string, unknown>;
  if (o['scheme'] === 'none') return { scheme: 'none' };
  if (o['scheme'] === 'int8-weight' || o['scheme'] === 'int8-dynamic') return { scheme: o['scheme'], perChannel: o['perChannel'] !== false };
  if (o['scheme'] === 'int8-static') {
    const sc = o['scales'] as Record<string, unknown> | undefined;
    const positive = (a: unknown): a is number[] => Array.isArray(a) && a.length > 0 && a.every((x) => typeof x === 'number' && Number.isFinite(x) && x > 0);
    if (typeof sc !== 'object' || sc === null || !positive(sc['x']) || !positive(sc['h'])) return fail();
    const calibration = o['calibration'];
    return {
      scheme: 'int8-static', perChannel: true, batchInvariant: true, scales: { x: sc['x'], h: sc['h'] },
      calibration: typeof calibration === 'object' && calibration !== null && !Array.isArray(calibration) ? (calibration as Record<string, unknown>) : {},
    };
  }
  return fail();
}

function truncate(s: string | undefined): string {
  if (s === undefined) return 'undefined';
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
