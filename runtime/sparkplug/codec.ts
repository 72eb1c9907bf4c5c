import type * as Tahu from 'sparkplug-payload';
import type { UMetric, UPayload } from 'sparkplug-payload/lib/sparkplugbpayload';
import { EdgeLstmError } from '../errors';

/** The version this edgelstm is tested with; a peer dependency, installed only by those who use Sparkplug B. */
export const SPARKPLUG_PAYLOAD_VERSION = '1.0.3';

type Codec = NonNullable<ReturnType<typeof Tahu.get>>;
let loaded: Codec | undefined;

/**
 * Eclipse Tahu's payload codec (sparkplug-payload): the protobuf schema of
 * Sparkplug B. Loaded on first use, so an install without it (the default:
 * its protobufjs dependency has an install script, which Node-RED's palette
 * and npm 11 would flag) runs everything else.
 */
export function codec(): Codec {
  if (loaded !== undefined) return loaded;
  let tahu: typeof Tahu;
  try {
    tahu = require('sparkplug-payload') as typeof Tahu;
  } catch {
    throw new EdgeLstmError('E_CONFIG', `Sparkplug B needs the sparkplug-payload package next to edgelstm: npm install sparkplug-payload@${SPARKPLUG_PAYLOAD_VERSION}`, { field: 'payload', expected: 'sparkplug-payload installed', found: 'not installed' });
  }
  loaded = tahu.get('spBv1.0')!;
  return loaded;
}

/** A metric value after decoding: numbers (64-bit integers as doubles), booleans, strings; null when is_null or not a scalar. */
export type MetricValue = number | boolean | string | null;

export interface SparkplugMetric {
  name?: string;
  alias?: number;
  /** Epoch ms. */
  timestamp?: number;
  value: MetricValue;
  /** Sparkplug data type name (Double, Int64, Boolean, ...). */
  type?: string;
}

export interface SparkplugPayload {
  /** Epoch ms. */
  timestamp?: number;
  /** 0-255 (absent in NDEATH). */
  seq?: number;
  metrics: SparkplugMetric[];
}

/** A metric to encode: a Double, Boolean or Int64 (bdSeq). */
export interface OutMetric {
  name: string;
  type: 'Double' | 'Boolean' | 'Int64' | 'UInt64';
  value: number | boolean | null;
  timestamp?: number;
}

interface LongLike {
  toNumber(): number;
}
const isLong = (v: unknown): v is LongLike => typeof v === 'object' && v !== null && typeof (v as { toNumber?: unknown }).toNumber === 'function';

function num(v: unknown): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number') return v;
  if (isLong(v)) return v.toNumber();
  return undefined;
}

function scalar(v: unknown): MetricValue {
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string') return v;
  if (isLong(v)) return v.toNumber();
  return null; // null, bytes, data sets, templates, property sets: nothing a model feature can take
}

/** Decodes a Sparkplug B payload; throws E_PAYLOAD (field payload) when the bytes are not one. */
export function decodeSparkplug(bytes: Uint8Array, maxBytes: number): SparkplugPayload {
  if (bytes.length > maxBytes) throw new EdgeLstmError('E_PAYLOAD', `payload of ${bytes.length} bytes exceeds ${maxBytes}`, { field: 'payload', expected: `at most ${maxBytes} bytes`, found: `${bytes.length}` });
  let raw: UPayload;
  try {
    raw = codec().decodePayload(bytes) as UPayload;
  } catch (e) {
    throw new EdgeLstmError('E_PAYLOAD', `not a Sparkplug B payload: ${(e as Error).message}`, { field: 'payload', expected: 'a Sparkplug B protobuf Payload', found: `${bytes.length} bytes` });
  }
  const out: SparkplugPayload = { metrics: [] };
  const ts = num(raw.timestamp);
  if (ts !== undefined) out.timestamp = ts;
  const seq = num(raw.seq);
  if (seq !== undefined) out.seq = seq;
  for (const m of raw.metrics ?? []) {
    const metric: SparkplugMetric = { value: m.isNull === true ? null : scalar(m.value) };
    if (typeof m.name === 'string' && m.name.length > 0) metric.name = m.name;
    const alias = num(m.alias);
    if (alias !== undefined) metric.alias = alias;
    const mts = num(m.timestamp);
    if (mts !== undefined) metric.timestamp = mts;
    if (typeof m.type === 'string') metric.type = m.type;
    out.metrics.push(metric);
  }
  return out;
}

/** Encodes a payload with Tahu's codec. */
export function encodeSparkplug(p: { timestamp: number; seq?: number; metrics: readonly OutMetric[] }): Buffer {
  const metrics: UMetric[] = p.metrics.map((m) => ({ name: m.name, type: m.type, value: m.value, ...(m.timestamp !== undefined ? { timestamp: m.timestamp } : {}) }));
  const bytes = codec().encodePayload({ timestamp: p.timestamp, ...(p.seq !== undefined ? { seq: p.seq } : {}), metrics });
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** The metric a host application sets to ask an edge node for new birth certificates (section 6.4.1). */
export const REBIRTH_METRIC = 'Node Control/Rebirth';
/** The birth/death sequence metric of NBIRTH and NDEATH. */
export const BDSEQ_METRIC = 'bdSeq';
