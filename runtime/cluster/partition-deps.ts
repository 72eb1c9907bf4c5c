import type { JetStreamClient, JetStreamManager, KV, NatsConnection } from 'nats';
import type { Logger } from 'pino';
import type { Engine } from '../engine/engine';
import type { Model } from '../model/load-model';
import type { ClusterCounters } from './cluster-counters';
import type { ClusterOptions } from './cluster-options';
import type { AckTurn } from './ordered-acks';
import type { PartitionSnapshots } from './partition-snapshots';
import type { PartitionStarts } from './partition-starts';
import type { ResultOut } from './result-out';
import type { SubjectPlan } from './subjects';

/** What an owned partition works with: the instance's connections, engine, buckets, counters and log. */
export interface PartitionDeps {
  nc: NatsConnection;
  js: JetStreamClient;
  /** Stream and consumer management, on the lease connection (its replies do not queue behind pulled readings). */
  jsm: JetStreamManager;
  model: Model;
  /** The instance's one engine: every owned partition's devices step through it, in one ONNX call per batch. */
  engine: Engine;
  opts: ClusterOptions;
  plan: SubjectPlan;
  snapshots: PartitionSnapshots;
  /** Partition -> its current owner's consumer and the watermarks inherited from earlier owners (no time to live: it outlives owners). */
  progress: KV;
  counters: ClusterCounters;
  /** Recent partition starts, stage by stage. */
  starts: PartitionStarts;
  log: Logger;
  /** Results of every owned partition, one write per turn of the event loop (core publish). */
  out: ResultOut;
  /** Acknowledgements of every owned partition, sent together once per turn. */
  acks: AckTurn;
}
