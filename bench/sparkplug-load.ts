/**
 * Sparkplug B readings for bench:mqtt's load generator: the births made by
 * Eclipse Tahu's codec (sparkplug-payload), and each alias-only DDATA
 * encoded here in the same bytes Tahu writes (checked against Tahu at start
 * by `checkDdataEncoder`), since Tahu's protobufjs encoder would cost the
 * generator several microseconds per message.
 */
import { get } from 'sparkplug-payload';
import type { UMetric } from 'sparkplug-payload/lib/sparkplugbpayload';

const tahu = get('spBv1.0')!;
/** The one metric of a reading: named as the model's feature in DBIRTH, alias 1 in DDATA. */
export const METRIC = { name: 'value', alias: 1 } as const;

/** NBIRTH (seq 0, bdSeq 0) of an edge node, as the latin1 string RawMqtt.add sends byte for byte. */
export function nbirth(ts: number): string {
  return Buffer.from(tahu.encodePayload({ timestamp: ts, seq: 0, metrics: [{ name: 'bdSeq', type: 'Int64', value: 0 }, { name: 'Node Control/Rebirth', type: 'Boolean', value: false }] })).toString('latin1');
}

/** DBIRTH of a device announcing the metric's name and alias. */
export function dbirth(ts: number, seq: number, value: number): string {
  return Buffer.from(tahu.encodePayload({ timestamp: ts, seq, metrics: [{ name: METRIC.name, alias: METRIC.alias, type: 'Double', value } as UMetric] })).toString('latin1');
}

const out = Buffer.alloc(64);

function varint(o: number, x: number): number {
  while (x >= 128) {
    out[o++] = (x % 128) | 0x80;
    x = Math.floor(x / 128);
  }
  out[o++] = x;
  return o;
}

/**
 * DDATA with one Double metric by alias, its timestamp `ts` (also the
 * payload's), and `seq`: protobuf fields in Tahu's order (Payload: timestamp
 * 1, metrics 2, seq 3; Metric: alias 2, timestamp 3, datatype 4 = Double 10,
 * double_value 13).
 */
export function ddata(ts: number, value: number, seq: number): string {
  let o = 0;
  out[o++] = 0x08;
  o = varint(o, ts);
  out[o++] = 0x12;
  const lenAt = o++;
  out[o++] = 0x10;
  o = varint(o, METRIC.alias);
  out[o++] = 0x18;
  o = varint(o, ts);
  out[o++] = 0x20;
  out[o++] = 10;
  out[o++] = 0x69;
  out.writeDoubleLE(value, o);
  o += 8;
  out[lenAt] = o - lenAt - 1;
  out[o++] = 0x18;
  o = varint(o, seq);
  return out.toString('latin1', 0, o);
}

/** Throws unless `ddata` writes what Tahu's encoder writes for the same message. */
export function checkDdataEncoder(): void {
  for (const [ts, value, seq] of [[1_700_000_000_000, 21.5, 0], [1_700_000_123_000, -0.125, 255], [1_700_099_999_000, 19.987, 128], [0, 0, 1]] as const) {
    const ref = Buffer.from(tahu.encodePayload({ timestamp: ts, seq, metrics: [{ alias: METRIC.alias, type: 'Double', value, timestamp: ts } as UMetric] })).toString('hex');
    const own = Buffer.from(ddata(ts, value, seq), 'latin1').toString('hex');
    if (own !== ref) throw new Error(`bench DDATA encoder: ${own} for ts ${ts} value ${value} seq ${seq}, Tahu writes ${ref}`);
  }
}
