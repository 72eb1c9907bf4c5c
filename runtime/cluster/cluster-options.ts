import { hostname } from 'node:os';
import { EdgeLstmError } from '../errors';

/** Options of one cluster instance (`edgelstm run --cluster nats://...`). */
export interface ClusterOptions {
  /** NATS server URL(s), comma-separated in the CLI. */
  servers: string[];
  /** The group the instances of one fleet share: buckets, consumers and the stream are named after it. Default 'edgelstm'. */
  group: string;
  /** This instance's name; unique within the group. Default: hostname-pid. */
  instance: string;
  /** Partitions of the fleet; must equal the server mapping's partition(N, ...). Default 64. */
  partitions: number;
  /** Input subject with {partition} and {device} levels, as the server's mapping writes it. */
  subject: string;
  /** The JetStream stream holding the readings (the write-ahead log). Created when missing. Default 'EDGELSTM_IN'. */
  stream: string;
  /** Replicas of the stream, buckets and snapshots when this instance creates them (3 in a 3-node cluster). Default 1. */
  replicas: number;
  /** Result subject; {device} is the device id. NATS's MQTT side delivers `edgelstm.pump-7.result` as `edgelstm/pump-7/result`. */
  resultSubject: string;
  /** 'core': publish results as plain NATS messages; 'jetstream': wait for a stream's acknowledgement of each batch of results (a stream must capture resultSubject). Default 'core'. */
  publish: 'core' | 'jetstream';
  /** A lease lapses this long after its owner's last renewal (ms). Takeover after a crash takes about this long. Default 3000. */
  leaseTtlMs: number;
  /** How often ownership is rechecked and leases checked for renewal (ms; a lease is renewed once a third of the time it is surely ours has passed: LeaseTable.due). Default 500. */
  tickMs: number;
  /** A partition's state is snapshotted after this many readings... Default 5000. */
  snapshotEvery: number;
  /** ...or this long after its last snapshot (ms), whichever comes first. Default 30000: a snapshot costs by devices, not readings; at high rates snapshotEvery comes first and bounds the replay after a takeover. */
  snapshotIntervalMs: number;
  /** Most readings taken from a partition per fetch. Default 1024. */
  fetchBatch: number;
}

export const CLUSTER_DEFAULTS = {
  group: 'edgelstm',
  partitions: 64,
  subject: 'part.{partition}.sensors.{device}.telemetry',
  stream: 'EDGELSTM_IN',
  replicas: 1,
  resultSubject: 'edgelstm.{device}.result',
  publish: 'core',
  leaseTtlMs: 3000,
  tickMs: 500,
  snapshotEvery: 5000,
  snapshotIntervalMs: 30_000,
  fetchBatch: 1024,
} as const;

/** Fills defaults and checks every option, naming the bad one. */
export function resolveClusterOptions(o: Partial<ClusterOptions> & { servers: string[] }): ClusterOptions {
  const r: ClusterOptions = {
    ...CLUSTER_DEFAULTS,
    instance: `${hostname().replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 50)}-${process.pid}`,
    ...o,
  };
  const bad = (field: string, expected: string, found: unknown): never => {
    throw new EdgeLstmError('E_CONFIG', `cluster option ${field}: expected ${expected}, found ${JSON.stringify(found)}`, { field, expected, found: String(found) });
  };
  if (r.servers.length === 0) bad('servers', 'at least one nats:// URL', r.servers);
  for (const [k, v] of [['group', r.group], ['instance', r.instance]] as const) {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(v)) bad(k, 'letters, digits, _ or - (at most 64)', v);
  }
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(r.stream)) bad('stream', 'a stream name of letters, digits, _ or -', r.stream);
  if (!Number.isInteger(r.partitions) || r.partitions < 1 || r.partitions > 4096) bad('partitions', 'an integer from 1 to 4096', r.partitions);
  if (!r.subject.includes('{partition}') || !r.subject.includes('{device}')) bad('subject', 'a subject with {partition} and {device} tokens', r.subject);
  if (!r.resultSubject.includes('{device}')) bad('resultSubject', 'a subject with a {device} token', r.resultSubject);
  if (r.replicas !== 1 && r.replicas !== 3 && r.replicas !== 5) bad('replicas', '1, 3 or 5', r.replicas);
  if (r.publish !== 'core' && r.publish !== 'jetstream') bad('publish', '"core" or "jetstream"', r.publish);
  // A lease shorter than a few ticks would lapse between renewals on a busy machine.
  if (!Number.isInteger(r.tickMs) || r.tickMs < 50 || r.tickMs > 60_000) bad('tickMs', 'an integer from 50 to 60000', r.tickMs);
  if (!Number.isInteger(r.leaseTtlMs) || r.leaseTtlMs < 3 * r.tickMs || r.leaseTtlMs > 600_000) bad('leaseTtlMs', `an integer from ${3 * r.tickMs} (3 ticks) to 600000`, r.leaseTtlMs);
  if (!Number.isInteger(r.snapshotEvery) || r.snapshotEvery < 1) bad('snapshotEvery', 'a positive integer', r.snapshotEvery);
  if (!Number.isInteger(r.snapshotIntervalMs) || r.snapshotIntervalMs < 100) bad('snapshotIntervalMs', 'an integer >= 100', r.snapshotIntervalMs);
  if (!Number.isInteger(r.fetchBatch) || r.fetchBatch < 1 || r.fetchBatch > 10_000) bad('fetchBatch', 'an integer from 1 to 10000', r.fetchBatch);
  return r;
}
