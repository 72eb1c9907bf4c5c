import { EdgeLstmError } from '../errors';
import { parseTimestamp } from '../util/timestamp';

/** A reading decoded from one MQTT payload, before the device id from the topic is applied. */
export interface DecodedReading {
  device?: string;
  ts?: number;
  /** Values by feature name (object, SenML, or a topic's {feature}). */
  named?: Record<string, number>;
  /** Values in feature order (bare number, array, or `values`). */
  values?: number[];
}

export interface DecodeOptions {
  /** The model's input features, in order. */
  features: readonly string[];
  /** The payload field that may carry the device id. Default 'device'. */
  deviceField: string;
  /** The feature a topic's {feature} level named, if any: a bare number is that feature's value. */
  feature?: string;
  /** Larger payloads are refused before parsing. */
  maxBytes: number;
}

// JSON's number grammar (RFC 8259 section 6): what JSON.parse would read as a number, and nothing else.
const JSON_NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
// A superset of what String.prototype.trim removes: a payload that may need trimming gets trim() itself.
const isSpace = (c: number): boolean => c <= 0x20 || c === 0xa0 || c === 0x1680 || c >= 0x2000;
// SenML times below 2^28 s are relative to now (RFC 8428 section 4.5.3).
const SENML_RELATIVE_LIMIT = 2 ** 28;

/**
 * Decodes one payload: a bare or JSON number, a JSON array of numbers, a JSON
 * object (`{"temp": 21.4, "ts": ...}`, or `{"values": [...]}`), or SenML JSON
 * (RFC 8428: an array of records with n/v/t/bn/bt). SenML may hold several
 * readings (one per distinct base name and time). Throws E_PAYLOAD naming the reason.
 */
export function decodePayload(payload: Buffer, o: DecodeOptions): DecodedReading[] {
  if (payload.length > o.maxBytes) throw payloadError(`payload of ${payload.length} bytes exceeds ${o.maxBytes}`, 'payload', `at most ${o.maxBytes} bytes`, `${payload.length}`);
  let text = payload.toString('utf8');
  if (text.length > 0 && (isSpace(text.charCodeAt(0)) || isSpace(text.charCodeAt(text.length - 1)))) text = text.trim();
  if (text.length === 0) throw payloadError('empty payload', 'payload', 'a number or JSON', 'nothing');
  // A bare number (the commonest sensor payload) needs no JSON parser; the grammar is JSON's, so the value is the same.
  if (JSON_NUMBER.test(text)) return [single(Number(text), o)];
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw payloadError('payload is neither a number nor valid JSON', 'payload', 'a number or JSON', text.length > 40 ? `${text.slice(0, 37)}...` : text);
  }
  if (typeof parsed === 'number') return [single(parsed, o)];
  if (Array.isArray(parsed)) {
    if (parsed.length > 0 && parsed.every((r) => typeof r === 'object' && r !== null && !Array.isArray(r))) return decodeSenml(parsed as Record<string, unknown>[], o);
    return [{ values: numbers(parsed, 'payload') }];
  }
  if (typeof parsed === 'object' && parsed !== null) return [decodeObject(parsed as Record<string, unknown>, o)];
  throw payloadError('payload has the wrong type', 'payload', 'a number, array or object', parsed === null ? 'null' : typeof parsed);
}

function single(v: number, o: DecodeOptions): DecodedReading {
  if (o.feature !== undefined) return { named: { [o.feature]: v } };
  return { values: [v] };
}

function decodeObject(obj: Record<string, unknown>, o: DecodeOptions): DecodedReading {
  const r: DecodedReading = {};
  const named: Record<string, number> = {};
  let nNamed = 0;
  // for-in over a JSON.parse result: own enumerable keys in the same order as Object.entries, without the arrays.
  for (const k in obj) {
    const v = obj[k];
    if (k === o.deviceField) {
      if (typeof v !== 'string' || v.length === 0) throw payloadError('device field is not a non-empty string', k, 'a string', typeof v);
      r.device = v;
    } else if (k === 'ts' || k === 'timestamp' || k === 'time') r.ts = timestamp(v, k);
    else if (k === 'values') r.values = numbers(v, k);
    else if (k === 'value') {
      const f = o.feature ?? o.features[0]!;
      if (named[f] === undefined) nNamed++;
      named[f] = finite(v, k);
    } else if (o.features.includes(k)) {
      if (named[k] === undefined) nNamed++;
      named[k] = finite(v, k);
    } else throw payloadError(`unknown field "${k}"`, k, `one of ${[o.deviceField, 'ts', 'values', 'value', ...o.features].join(', ')}`, k);
  }
  if (nNamed > 0) {
    if (r.values) throw payloadError('both values and named features', 'values', 'one or the other', 'both');
    r.named = named;
  } else if (!r.values) throw payloadError('object carries no values', 'payload', `values or a field per feature (${o.features.join(', ')})`, 'none');
  return r;
}

function decodeSenml(records: Record<string, unknown>[], o: DecodeOptions): DecodedReading[] {
  let bn = '';
  let bt = 0;
  // One reading per device and time: records under another base name are another device's (RFC 8428 section 4.5.1).
  const byTime = new Map<string, DecodedReading>();
  const nowS = Date.now() / 1000;
  for (const rec of records) {
    if (typeof rec['bn'] === 'string') bn = rec['bn'];
    if (rec['bt'] !== undefined) bt = finite(rec['bt'], 'bt');
    const n = typeof rec['n'] === 'string' ? rec['n'] : '';
    if (rec['v'] === undefined) throw payloadError(`SenML record "${bn}${n}" has no numeric value v`, 'v', 'a number', rec['vs'] !== undefined ? 'a string value' : 'nothing');
    const v = finite(rec['v'], 'v');
    let t = bt + (rec['t'] !== undefined ? finite(rec['t'], 't') : 0);
    if (t < SENML_RELATIVE_LIMIT) t += nowS;
    const tsMs = Math.round(t * 1000);
    // A base name like "urn:dev:pump-7:" names the device; the record name, the feature.
    const device = bn.replace(/[:/]$/, '').split(/[:/]/).pop();
    const feature = n.length > 0 ? n : (o.feature ?? o.features[0]!);
    if (!o.features.includes(feature)) throw payloadError(`unknown SenML name "${n}"`, 'n', `one of ${o.features.join(', ')}`, n);
    const key = `${tsMs}\u0000${device ?? ''}`;
    let r = byTime.get(key);
    if (!r) {
      r = { ts: tsMs, named: {}, ...(device ? { device } : {}) };
      byTime.set(key, r);
    }
    r.named![feature] = v;
  }
  return [...byTime.values()].sort((a, b) => a.ts! - b.ts!);
}

/** Puts a reading's values in feature order; throws E_PAYLOAD when one is missing. */
export function orderValues(r: DecodedReading, features: readonly string[]): number[] {
  if (r.values) return r.values;
  const named = r.named ?? {};
  return features.map((f) => {
    const v = named[f];
    if (v === undefined) throw payloadError(`feature "${f}" missing`, f, `a value for each of ${features.join(', ')}`, Object.keys(named).join(', ') || 'none');
    return v;
  });
}

function numbers(v: unknown, field: string): number[] {
  if (!Array.isArray(v)) throw payloadError(`${field} is not an array`, field, 'an array of numbers', typeof v);
  return v.map((x, i) => finite(x, `${field}[${i}]`));
}

function finite(v: unknown, field: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw payloadError(`${field} is not a finite number`, field, 'a finite number', v === null ? 'null' : typeof v === 'string' ? JSON.stringify(v.slice(0, 20)) : typeof v);
  return v;
}

function timestamp(v: unknown, field: string): number {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v === 'string') {
    const t = parseTimestamp(v);
    if (Number.isFinite(t)) return t;
  }
  throw payloadError(`${field} is not a timestamp`, field, 'epoch ms or an ISO 8601 string', typeof v);
}

function payloadError(message: string, field: string, expected: string, found: string): EdgeLstmError {
  return new EdgeLstmError('E_PAYLOAD', message, { field, expected, found });
}
