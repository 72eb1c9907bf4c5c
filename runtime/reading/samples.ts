import type { Sample } from '../engine/sample';
import { EdgeLstmError } from '../errors';
import { decodePayload, orderValues, type DecodedReading, type DecodeOptions } from './payload';

/** Where the device id of a reading comes from besides its payload: a topic level, a message property. */
export interface DeviceSource {
  /** The id the transport gives, if any; it wins over the payload's own device field. */
  id: string | undefined;
  /** The error when neither the transport nor the payload names a device. */
  missing(): EdgeLstmError;
}

/**
 * Decoded readings as the engine's samples: each one's device (the
 * transport's id, else the payload's), its values in the model's feature
 * order, and its timestamp when it has one. Throws E_PAYLOAD (or what
 * `device.missing` returns) naming the field.
 */
export function toSamples(readings: readonly DecodedReading[], features: readonly string[], device: DeviceSource): Sample[] {
  return readings.map((r) => {
    const id = device.id ?? r.device;
    if (id === undefined) throw device.missing();
    const values = orderValues(r, features);
    return r.ts !== undefined ? { device: id, ts: r.ts, values } : { device: id, values };
  });
}

export interface ReadSamplesOptions extends DecodeOptions {
  device: DeviceSource;
}

/**
 * One payload as samples: what the MQTT service and the Node-RED nodes both
 * accept (see decodePayload). A feature named by the transport (a topic's
 * {feature} level) must be one of the model's: E_TOPIC otherwise.
 */
export function readSamples(payload: Buffer, o: ReadSamplesOptions): Sample[] {
  const feature = o.feature;
  if (feature !== undefined && !o.features.includes(feature)) throw new EdgeLstmError('E_TOPIC', `unknown feature "${feature}" in topic`, { field: 'feature', expected: o.features.join(', '), found: feature });
  return toSamples(decodePayload(payload, o), o.features, o.device);
}
