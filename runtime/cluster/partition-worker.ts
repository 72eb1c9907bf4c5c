// The module's performance, not the global: in Node 20 every read of the global goes through a lazy getter (10% of an instance's CPU, once per reading).
import { performance } from 'node:perf_hooks';
import type { ConsumerMessages, JsMsg } from 'nats';
import type { BatchResults } from '../engine/batch-results';
import type { Sample } from '../engine/sample';
import { batchResultJson } from '../engine/result-json';
import { encodeSnapshot } from '../state/snapshot';
import type { Lease } from './leases';
import { resultSubjectFor } from './subjects';
import type { PartitionDeps } from './partition-deps';
import type { PartitionStart } from './partition-starts';
import type { PartitionStore } from './partition-store';
import { takeOver, type Takeover } from './partition-takeover';
import { OrderedAcks, type InFlight } from './ordered-acks';
import { SnapshotSchedule } from './snapshot-schedule';
import { newerOnly, samplesOf } from './partition-readings';
import { streamSeqOf } from './stream-seq';

export type { PartitionDeps } from './partition-deps';

/**
 * One owned partition: its devices' states in the instance's shared engine
 * (a PartitionStore view of them), restored from the
 * partition's snapshot and brought forward by replaying the stream from the
 * snapshot's sequence. Readings a previous owner already answered (up to its
 * consumer's acknowledged floor) are stepped without publishing; readings it
 * may have answered without acknowledging (delivered, not acknowledged) are
 * answered again and flagged `"redelivered": true`. A reading is acknowledged
 * (AckAll, in stream order) only once its results are published, so a crash
 * loses nothing. Before every publish the lease is checked: an owner whose
 * lease may have lapsed (a frozen process waking up) stops without publishing.
 */
export class PartitionWorker {
  readonly partition: number;
  readonly lease: Lease;
  readonly #d: PartitionDeps;
  /** This partition's devices in the shared engine's store. */
  readonly #store: PartitionStore;
  /** Samples submitted to the shared engine whose callback has not come yet. */
  #outstanding = 0;
  /** Resolves once the engine holds no sample of this partition any more and its devices are freed (after release or abandon). */
  readonly retired: Promise<void>;
  #retire: (() => void) | undefined;
  readonly #consumer: string;
  /** Results for readings up to here were published by an earlier owner. */
  readonly #answeredUpTo: number;
  /** Readings up to here may have been answered by an earlier owner: answered again, flagged. */
  readonly #maybeAnsweredUpTo: number;
  #submitted: number;
  #acked: number;
  readonly #schedule: SnapshotSchedule;
  /** Readings taken, acknowledged in stream order once answered. */
  readonly #acks: OrderedAcks;
  /** Each device's newest reading time taken, in stream order (snapshotted with the state). */
  readonly #lastTs: Map<string, number>;
  #messages: ConsumerMessages | undefined;
  #loop: Promise<void> | undefined;
  /** A snapshot running; readings arriving meanwhile wait in #held. */
  #snapshotting: Promise<void> | undefined;
  readonly #held: JsMsg[] = [];
  #heldHead = 0;
  #stopping = false;
  #abandoned = false;
  /** Released or abandoned: the partition's devices leave the shared store once the engine holds none of its samples. */
  #retiring = false;
  /** This start's stages; caughtUpAt is set when the consumer first has nothing pending. */
  readonly #start: PartitionStart;
  #drained: (() => void) | undefined;
  /** Set when the consumer loop ended by itself (consumer deleted, connection closed): the node restarts the partition. */
  failed: Error | undefined;

  private constructor(d: PartitionDeps, lease: Lease, t: Takeover) {
    this.#start = t.stage;
    this.#lastTs = t.lastTs;
    this.partition = lease.partition;
    this.lease = lease;
    this.#d = d;
    this.#store = t.store;
    this.#acks = new OrderedAcks(d.acks);
    this.retired = new Promise<void>((resolve) => {
      this.#retire = resolve;
    });
    this.#consumer = t.consumer;
    this.#submitted = t.from;
    this.#acked = t.from;
    this.#schedule = new SnapshotSchedule(t.from, d.opts.snapshotEvery, d.opts.snapshotIntervalMs);
    this.#answeredUpTo = t.answered;
    this.#maybeAnsweredUpTo = t.maybe;
  }

  /** Takes the partition over (partition-takeover.ts) and starts consuming. */
  static async start(d: PartitionDeps, lease: Lease): Promise<PartitionWorker> {
    const t = await takeOver(d, lease);
    try {
      const w = new PartitionWorker(d, lease, t);
      d.counters.partitionsStarted++;
      d.log.info({ partition: lease.partition, snapshotSeq: t.from, answeredUpTo: t.answered, maybeAnsweredUpTo: t.maybe, devices: t.store.size }, 'partition taken');
      w.#loop = w.#run();
      return w;
    } catch (e) {
      t.store.resetAll();
      throw e;
    }
  }

  /** Devices with state in this partition. */
  get devices(): number {
    return this.#store.size;
  }

  /** The highest stream sequence whose results are published and acknowledged. */
  get acked(): number {
    return this.#acked;
  }

  /**
   * Consumes with a callback, not an async iterator: a promise and a turn of
   * the microtask queue per reading saved. While a snapshot drains and encodes
   * (a quiet point of the partition), readings that arrive are held and taken
   * after it, in order.
   */
  async #run(): Promise<void> {
    try {
      const c = await this.#d.js.consumers.get(this.#d.opts.stream, this.#consumer);
      // nats.js's pull expiry (30 s) is kept: 5 s removed bench:cluster's rare 30 s takeover outliers (a partition
      // silent until its pull expired) but made nats-server's CPU per reading 3-10x in 4 of 6 burst rows (re-pulls
      // when a busy client misses heartbeats).
      this.#messages = await c.consume({ max_messages: this.#d.opts.fetchBatch, callback: (m) => this.#onMessage(m) });
      if (this.#stopping) this.#messages.stop();
      const ended = await this.#messages.closed();
      if (ended instanceof Error && !this.#stopping) this.failed = ended;
    } catch (e) {
      if (!this.#stopping) this.failed = e as Error;
    }
    await this.#snapshotting;
    if (!this.#stopping && this.failed === undefined) this.failed = new Error('the partition consumer ended');
  }

  #onMessage(m: JsMsg): void {
    if (this.#stopping) return;
    if (this.#snapshotting !== undefined) this.#held.push(m);
    else this.#accept(m);
  }

  #accept(m: JsMsg): void {
    // The reply subject's sequence read directly (m.seq builds m.info, nine fields, per reading).
    // (JsMsg's implementation has `reply`; its interface does not name it.)
    const reply = (m as JsMsg & { readonly reply?: string }).reply;
    const seq = (reply === undefined ? undefined : streamSeqOf(reply)) ?? m.seq;
    if (this.#start.caughtUpAt === undefined && m.info.pending === 0) this.#start.caughtUpAt = Date.now();
    if (seq <= this.#submitted) return; // a redelivery of a reading already taken
    this.#submitted = seq;
    this.#take(m, seq);
    if (this.#schedule.due) this.#snapshotting = this.#snapshotThenResume();
  }

  async #snapshotThenResume(): Promise<void> {
    try {
      await this.#snapshot();
    } catch (e) {
      // Not stored (a timeout, NATS unreachable): the partition stops here and the node restarts it from its last snapshot.
      if (!this.#stopping) {
        this.failed = e as Error;
        this.#stopping = true;
        this.#messages?.stop();
      }
    }
    this.#snapshotting = undefined;
    while (this.#heldHead < this.#held.length && this.#snapshotting === undefined && !this.#stopping) this.#accept(this.#held[this.#heldHead++]!);
    if (this.#heldHead === this.#held.length || this.#stopping) {
      this.#held.length = 0;
      this.#heldHead = 0;
    }
  }

  #take(m: JsMsg, seq: number): void {
    const entry = this.#acks.take(seq, m);
    this.#d.counters.readings++;
    let samples: Sample[];
    try {
      samples = samplesOf(this.#d, m);
    } catch (e) {
      this.#d.counters.invalid++;
      this.#d.log.debug({ partition: this.partition, seq, err: (e as Error).message }, 'reading refused');
      this.#advance();
      return;
    }
    const answer = seq > this.#answeredUpTo;
    const flag = answer && seq <= this.#maybeAnsweredUpTo;
    if (!answer) this.#d.counters.replayed++;
    samples = newerOnly(samples, this.#lastTs, this.#d.counters);
    entry.left = samples.length;
    for (const s of samples) {
      this.#store.track(s.device);
      const err = this.#d.engine.submitColumnar(s, (e, b, i) => this.#stepped(entry, e, b, i, answer, flag));
      if (err !== undefined) {
        this.#d.counters.invalid++;
        entry.left--;
      } else this.#outstanding++;
    }
    if (entry.left === 0) this.#advance();
  }

  /** A sample's result, read from the engine's batch columns (no Result object; the batch is overwritten by the next one). */
  #stepped(entry: InFlight, err: Error | null, b: BatchResults | undefined, i: number, answer: boolean, flag: boolean): void {
    if (--this.#outstanding === 0 && this.#retiring) this.#settled();
    if (this.#abandoned) return;
    if (err !== null || b === undefined) {
      this.#d.counters.failed++;
      this.#d.log.warn({ partition: this.partition, seq: entry.seq, err: err?.message }, 'reading not stepped');
    } else if (answer) {
      if (performance.now() > this.lease.validUntil) {
        this.abandon('lease may have lapsed before a result was published');
        return;
      }
      const json = batchResultJson(b, i);
      const payload = flag ? `${json.slice(0, -1)},"redelivered":true}` : json;
      if (flag) this.#d.counters.redelivered++;
      this.#d.counters.results++;
      if (this.#d.opts.publish === 'jetstream') {
        this.#d.js.publish(resultSubjectFor(this.#d.opts.resultSubject, b.device(i)), payload).then(
          () => this.#published(entry),
          (e: unknown) => {
            // Not acknowledged by the results stream: the reading stays unacknowledged, and the partition restarts from its snapshot.
            this.failed = e as Error;
            this.abandon(`result not stored: ${(e as Error).message}`);
          },
        );
        return;
      }
      this.#d.out.publish(b.device(i), payload);
    }
    this.#published(entry);
  }

  #published(entry: InFlight): void {
    if (this.#abandoned) return;
    if (--entry.left <= 0) this.#advance();
  }

  /** Acknowledges the longest answered prefix of the readings taken (ordered-acks.ts) and counts it towards the next snapshot. */
  #advance(): void {
    const n = this.#acks.advance();
    if (n === 0) return;
    // The partition's own readings: a stream sequence also counts every other partition's readings in between.
    this.#schedule.acknowledged(n);
    this.#acked = this.#acks.ackedSeq;
    if (this.#acks.open === 0) this.#drained?.();
  }

  /** Waits until every reading taken is stepped, answered and acknowledged (other partitions' readings may still be in the engine). */
  async #drain(): Promise<void> {
    while ((this.#outstanding > 0 || this.#acks.open > 0) && !this.#abandoned) {
      await new Promise<void>((resolve) => {
        this.#drained = resolve;
        setTimeout(resolve, 50).unref();
      });
      this.#drained = undefined;
    }
  }

  /** Snapshots the partition at a quiet point: nothing in flight, so the state holds exactly the readings up to `acked`. */
  async #snapshot(): Promise<void> {
    this.#d.log.debug({ partition: this.partition, submitted: this.#submitted, acked: this.#acked, inflight: this.#acks.open }, 'snapshot: draining');
    await this.#drain();
    this.#d.log.debug({ partition: this.partition, acked: this.#acked }, 'snapshot: drained');
    if (this.#abandoned || this.#acked === this.#schedule.seq) return;
    const t0 = performance.now();
    const state = encodeSnapshot(this.#store, { fingerprint: this.#d.model.fingerprint, model: this.#d.model.id });
    const seq = this.#acked;
    // A snapshot is written only while the lease is surely ours: a lapsed owner must not replace its successor's.
    if (performance.now() > this.lease.validUntil) {
      this.abandon('lease may have lapsed before a snapshot was stored');
      return;
    }
    const bytes = await this.#d.snapshots.put(this.partition, { seq, state, lastTs: Object.fromEntries(this.#lastTs) });
    const storedAt = performance.now();
    this.#schedule.stored(seq, storedAt);
    this.#d.counters.snapshots++;
    this.#d.counters.snapshotBytes += bytes;
    this.#d.counters.snapshotMs += storedAt - t0;
    this.#d.log.debug({ partition: this.partition, seq, bytes }, 'snapshot: stored');
  }

  /** Graceful handoff: stop taking readings, answer what was taken, snapshot, and delete the consumer. */
  async release(): Promise<void> {
    this.#stopping = true;
    this.#messages?.stop();
    await this.#loop;
    if (!this.#abandoned) {
      await this.#snapshot();
      await this.#d.jsm.consumers.delete(this.#d.opts.stream, this.#consumer).catch(() => false);
    }
    this.#retiring = true;
    this.#settled();
    this.#d.log.info({ partition: this.partition, acked: this.#acked }, 'partition handed over');
  }

  /** The lease is lost (or may be): stop at once, publish and acknowledge nothing more, keep no state. */
  abandon(why: string): void {
    if (this.#abandoned) return;
    this.#abandoned = true;
    this.#acks.stop();
    this.#stopping = true;
    this.#messages?.stop();
    this.#drained?.();
    this.#d.counters.partitionsAbandoned++;
    this.#d.log.warn({ partition: this.partition, why }, 'partition abandoned');
    this.#retiring = true;
    this.#settled();
  }

  /**
   * Once stopping and no sample of the partition is left in the shared engine:
   * frees its devices there (its next owner restores them from the snapshot).
   */
  #settled(): void {
    if (this.#outstanding > 0 || this.#retire === undefined) return;
    this.#store.resetAll();
    const done = this.#retire;
    this.#retire = undefined;
    done();
  }

  get abandoned(): boolean {
    return this.#abandoned;
  }
}
