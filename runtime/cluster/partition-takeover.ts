// The module's performance, not the global: in Node 20 every read of the global goes through a lazy getter.
import { performance } from 'node:perf_hooks';
import { AckPolicy, DeliverPolicy, nanos } from 'nats';
import { EdgeLstmError } from '../errors';
import { decodeSnapshotInto } from '../state/snapshot';
import type { Lease } from './leases';
import type { PartitionDeps } from './partition-deps';
import { consumerInfoIfAny, isNotFound, readProgress, writeProgress } from './partition-progress';
import type { PartitionStart } from './partition-starts';
import { PartitionStore } from './partition-store';

let consumerSerial = 0;

/** A partition taken over: its restored devices, our consumer, and where earlier owners got to. */
export interface Takeover {
  /** This partition's devices in the shared engine's store, restored from its snapshot. */
  store: PartitionStore;
  /** Our durable consumer, created and positioned after the snapshot. */
  consumer: string;
  /** The stream sequence the restored state holds readings up to. */
  from: number;
  /** Results for readings up to here were published by an earlier owner. */
  answered: number;
  /** Readings up to here may have been answered by an earlier owner. */
  maybe: number;
  /** Each device's newest reading time taken (from the snapshot). */
  lastTs: Map<string, number>;
  /** This start's stages (already added to the deps' starts). */
  stage: PartitionStart;
}

/**
 * Restores the partition, records where earlier owners got to (compare-and-set,
 * while the lease is surely ours), fences their consumers off, and creates
 * our consumer. On failure the partition's devices are freed again.
 */
export async function takeOver(d: PartitionDeps, lease: Lease): Promise<Takeover> {
  const p = lease.partition;
  const { opts } = d;
  const ours = (what: string): void => {
    if (performance.now() > lease.validUntil) throw new Error(`partition ${p}: the lease may have lapsed before ${what}`);
  };
  const store = new PartitionStore(d.engine.store);
  const stage: PartitionStart = { partition: p, acquiredAt: lease.acquiredAt, snapshotMs: 0, restoreMs: 0, progressMs: 0, fenceMs: 0, consumerMs: 0, readyAt: 0, backlog: 0, caughtUpAt: undefined };
  let t = performance.now();
  const lap = (): number => {
    const t0 = t;
    t = performance.now();
    return t - t0;
  };
  try {
    let from = 0;
    let lastTs = new Map<string, number>();
    // Readings up to here were answered by earlier owners, whatever the state restored.
    let floor = 0;
    // The snapshot and the earlier owners' progress, read at once (two round trips fewer on a takeover's critical path).
    const progressRead = readProgress(d.progress, p);
    progressRead.catch(() => undefined);
    // A snapshot that cannot be read (timeout, an object being replaced) is not the same as one refused: the start is retried.
    const snap = await d.snapshots.get(p).catch((e: unknown) => {
      if (!(e instanceof EdgeLstmError)) throw e;
      d.counters.snapshotsRefused++;
      d.log.warn({ partition: p, err: e.message }, 'partition snapshot unreadable; replaying the stream from its start');
      return undefined;
    });
    stage.snapshotMs = lap();
    if (snap !== undefined) {
      floor = snap.seq;
      try {
        decodeSnapshotInto(snap.state, store, { fingerprint: d.model.fingerprint, model: d.model.id }, `partition ${p} snapshot`);
        from = snap.seq;
        lastTs = new Map(Object.entries(snap.lastTs));
      } catch (e) {
        // Another model's state (or a damaged object) is not restored: the partition is rebuilt from the whole stream,
        // without answering again what was answered up to the snapshot.
        d.counters.snapshotsRefused++;
        d.log.warn({ partition: p, err: (e as Error).message }, 'partition snapshot refused; replaying the stream from its start');
        store.resetAll();
      }
    }
    stage.restoreMs = lap();
    // How far the previous owner got: its consumer's acknowledged and delivered sequences, plus what it inherited.
    const prev = await progressRead;
    let answered = Math.max(from, floor, prev.progress?.answered ?? 0);
    let maybe = Math.max(answered, prev.progress?.maybe ?? 0);
    let fence: string | undefined;
    if (prev.progress !== undefined && prev.progress.consumer !== '') {
      const ci = await consumerInfoIfAny(d.jsm, opts.stream, prev.progress.consumer);
      if (ci !== undefined) {
        answered = Math.max(answered, ci.ack_floor.stream_seq);
        maybe = Math.max(maybe, ci.delivered.stream_seq, answered);
        fence = prev.progress.consumer;
      }
    }
    const consumer = `${opts.group}_p${p}_${lease.revision}_${(++consumerSerial).toString(36)}${process.pid.toString(36)}`;
    // Record before fencing: an owner that dies after this leaves the watermarks to the next one.
    ours('recording its progress');
    const revision = await writeProgress(d.progress, p, { consumer, answered, maybe }, prev.revision);
    stage.progressMs = lap();
    if (fence !== undefined) {
      ours('fencing the previous consumer off');
      await d.jsm.consumers.delete(opts.stream, fence).catch((e: unknown) => {
        if (!isNotFound(e)) d.log.warn({ partition: p, consumer: fence, err: (e as Error).message }, 'previous consumer not deleted (its owner cannot publish: its lease lapsed)');
      });
      // A replicated consumer's delivered sequence can go back when its leader changes (a NATS node lost): it is not
      // a safe bound of what its owner was given. The stream's last sequence once the consumer is gone is: nothing
      // after it was ever delivered to that owner. Recorded for the owners after us as well.
      const last = (await d.jsm.streams.info(opts.stream)).state.last_seq;
      if (last > maybe) {
        maybe = last;
        ours('recording the fenced consumer\'s bound');
        await writeProgress(d.progress, p, { consumer, answered, maybe }, revision);
      }
    }
    stage.fenceMs = lap();
    const ci = await d.jsm.consumers.add(opts.stream, {
      durable_name: consumer,
      filter_subject: d.plan.partitionFilter(p),
      ack_policy: AckPolicy.All,
      ...(from > 0 ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: from + 1 } : { deliver_policy: DeliverPolicy.All }),
      max_ack_pending: opts.fetchBatch * 16,
      ack_wait: nanos(30_000),
    });
    stage.consumerMs = lap();
    stage.readyAt = Date.now();
    stage.backlog = ci.num_pending;
    if (ci.num_pending === 0) stage.caughtUpAt = stage.readyAt;
    d.starts.add(stage);
    return { store, consumer, from, answered, maybe, lastTs, stage };
  } catch (e) {
    store.resetAll();
    throw e;
  }
}
