import { EdgeLstmError, decodePayload, toSamples, type DecodedReading, type Sample } from '../../runtime';
import type { NodeMessage } from './node-red';

/** A reading taken from a message, before the engine sees it. */
export type Reading = Sample;

export interface ReadingOptions {
  /** The model's features, in order. */
  features: readonly string[];
  /** The device id, as read from the configured message property (undefined when absent). */
  deviceFromMsg: unknown;
  /** The property's name, for error messages ("msg.topic"). */
  deviceProperty: string;
  /** Largest string or Buffer payload accepted. */
  maxBytes?: number;
}

/**
 * Turns msg.payload into readings, accepting what the MQTT service accepts
 * (runtime/reading: the same decodePayload and toSamples): a number (or numeric string), an array of
 * numbers in feature order, an object with one field per feature (or
 * `value` / `values`, optional `ts` and `device`), or SenML. The device id is
 * the configured property, else the payload's `device` field. Throws
 * EdgeLstmError (E_PAYLOAD or E_BAD_DEVICE) naming the field.
 */
export function readingsFromMessage(msg: NodeMessage, o: ReadingOptions): Reading[] {
  const v = o.deviceFromMsg;
  const id = typeof v === 'string' && v.length > 0 ? v : typeof v === 'number' && Number.isFinite(v) ? String(v) : undefined;
  return toSamples(decode(msg.payload, o), o.features, { id, missing: () => noDevice(o) });
}

function decode(payload: unknown, o: ReadingOptions): DecodedReading[] {
  // Numbers and arrays go straight through: the engine names a bad element (values[i]) itself.
  if (typeof payload === 'number') return [{ values: [payload] }];
  if (Array.isArray(payload) && payload.every((v) => typeof v !== 'object' || v === null)) return [{ values: payload as number[] }];
  let bytes: Buffer;
  if (Buffer.isBuffer(payload)) bytes = payload;
  else if (typeof payload === 'string') bytes = Buffer.from(payload, 'utf8');
  else if (typeof payload === 'object' && payload !== null) bytes = Buffer.from(JSON.stringify(payload), 'utf8');
  else {
    throw new EdgeLstmError('E_PAYLOAD', 'msg.payload has no reading', {
      field: 'msg.payload',
      expected: `a number, an array of ${o.features.length}, or an object with ${o.features.join(', ')}`,
      found: payload === null ? 'null' : typeof payload,
    });
  }
  return decodePayload(bytes, { features: o.features, deviceField: 'device', maxBytes: o.maxBytes ?? 1024 * 1024 });
}

function noDevice(o: ReadingOptions): EdgeLstmError {
  const v = o.deviceFromMsg;
  return new EdgeLstmError('E_BAD_DEVICE', `no device id in ${o.deviceProperty} or payload.device`, {
    field: o.deviceProperty,
    expected: 'a non-empty string',
    found: v === undefined ? 'nothing' : v === '' ? 'an empty string' : typeof v,
  });
}
