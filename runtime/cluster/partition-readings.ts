import type { JsMsg } from 'nats';
import type { Sample } from '../engine/sample';
import { EdgeLstmError } from '../errors';
import { readSamples } from '../reading/samples';
import type { ClusterCounters } from './cluster-counters';
import type { PartitionDeps } from './partition-deps';

const MAX_PAYLOAD_BYTES = 64 * 1024;

/** A stream message's samples: the device from its subject, a missing time taken from when the stream stored it. */
export function samplesOf(d: PartitionDeps, m: JsMsg): Sample[] {
  const device = d.plan.device(m.subject);
  const missing = (): EdgeLstmError => new EdgeLstmError('E_TOPIC', `subject ${m.subject} does not fit ${d.opts.subject}`, { field: 'subject', expected: d.opts.subject, found: m.subject });
  if (device === undefined) throw missing();
  const features = d.engine.shape.features;
  // No copy of the payload: it is only read here.
  const data = m.data;
  const samples = readSamples(Buffer.from(data.buffer, data.byteOffset, data.byteLength), {
    features,
    deviceField: 'device',
    maxBytes: MAX_PAYLOAD_BYTES,
    device: { id: device, missing },
  });
  let timed = true;
  for (let i = 0; i < samples.length && timed; i++) timed = samples[i]!.ts !== undefined;
  if (timed) return samples;
  // A reading without a time takes the time the stream stored it: the same on every replay, so results are too.
  // (Read only then: it parses the message's reply subject.)
  const stored = Math.floor(m.info.timestampNanos / 1e6);
  return samples.map((s) => (s.ts === undefined ? { ...s, ts: stored } : s));
}

/**
 * The samples newer than their device's last one taken (recorded in `lastTs`).
 * A device's reading no newer than the last one taken is one the stream holds twice (an MQTT QoS 1 publish stored
 * again): answered once already, it is not stepped again (the state would move twice). Filters `samples` in place.
 */
export function newerOnly(samples: Sample[], lastTs: Map<string, number>, counters: ClusterCounters): Sample[] {
  // In place (the array is the caller's, fresh from samplesOf): no closure and no second array per reading.
  let n = 0;
  for (let i = 0; i < samples.length; i++) {
    const s = samples[i]!;
    const last = lastTs.get(s.device);
    if (last !== undefined && s.ts! <= last) {
      counters.duplicates++;
      continue;
    }
    lastTs.set(s.device, s.ts!);
    samples[n++] = s;
  }
  samples.length = n;
  return samples;
}
