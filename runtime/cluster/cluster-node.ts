import { performance } from 'node:perf_hooks';
import { connect, StorageType, type JetStreamClient, type JetStreamManager, type NatsConnection } from 'nats';
import type { Logger } from 'pino';
import { Engine } from '../engine/engine';
import type { EngineOptions } from '../engine/options';
import type { Model } from '../model/load-model';
import { partitionsOf } from './assignment';
import { newClusterCounters, type ClusterCounters } from './cluster-counters';
import type { ClusterOptions } from './cluster-options';
import { LeaseTable, type Lease } from './leases';
import { Membership } from './membership';
import { AckTurn } from './ordered-acks';
import { PartitionSnapshots } from './partition-snapshots';
import { PartitionStarts, type PartitionStart } from './partition-starts';
import { PartitionWorker, type PartitionDeps } from './partition-worker';
import { ResultOut } from './result-out';
import { planSubjects } from './subjects';
import { EdgeLstmError } from '../errors';

/** Partition starts and handovers running at once (each is a few JetStream API calls; on a replicated cluster, RAFT groups). */
const MAX_CONCURRENT_JOBS = 8;

/**
 * One instance of a cluster: it joins the group's membership, owns the
 * partitions rendezvous hashing gives it among the live members (each behind a
 * lease), and runs a PartitionWorker per owned partition. Renewal runs on its
 * own timer so that starting or handing over partitions never delays it.
 */
export class ClusterNode {
  readonly counters: ClusterCounters;
  readonly opts: ClusterOptions;
  readonly #nc: NatsConnection;
  readonly #ctl: NatsConnection;
  readonly #deps: PartitionDeps;
  readonly #leases: LeaseTable;
  readonly #members: Membership;
  readonly #held = new Map<number, Lease>();
  readonly #workers = new Map<number, PartitionWorker>();
  /** Workers stopped but with samples still in the engine: a partition restarts here only once its old worker has retired. */
  readonly #retiring = new Map<number, Promise<void>>();
  /** Partitions with a start or handover running. */
  readonly #busy = new Set<number>();
  readonly #jobs = new Set<Promise<void>>();
  readonly #log: Logger;
  #renewTimer: NodeJS.Timeout | undefined;
  #rebalancing: Promise<void> | undefined;
  #rebalanceTimer: NodeJS.Timeout | undefined;
  #stopped = false;
  /** Set once every partition is handed over: renewals go on while a graceful stop drains and snapshots. */
  #closed = false;
  /** Renewals in flight: a lease is given back only once its renewal has landed (else the revision-checked delete misses). */
  readonly #renewing = new Map<Lease, Promise<void>>();
  #lastMembers: string[] = [];
  /** The partitions rendezvous hashing gives this instance among #lastMembers (64 x members SHA-256s, recomputed only when the members change). */
  #wanted: { members: string; partitions: ReadonlySet<number> } | undefined;

  private constructor(nc: NatsConnection, ctl: NatsConnection, deps: PartitionDeps, leases: LeaseTable, members: Membership, log: Logger) {
    this.#nc = nc;
    this.#ctl = ctl;
    this.#deps = deps;
    this.counters = deps.counters;
    this.opts = deps.opts;
    this.#leases = leases;
    this.#members = members;
    this.#log = log;
  }

  static async start(opts: ClusterOptions, model: Model, engineOptions: EngineOptions, log: Logger): Promise<ClusterNode> {
    const nc = await connect({ servers: opts.servers, name: `edgelstm ${opts.group}/${opts.instance}`, maxReconnectAttempts: -1, reconnectTimeWait: 250 });
    // Leases and heartbeats on a connection of their own: on the data connection a renewal's reply queues behind
    // thousands of readings the consumers pulled, and a busy instance lost leases it was renewing on time.
    const ctl = await connect({ servers: opts.servers, name: `edgelstm ${opts.group}/${opts.instance} leases`, maxReconnectAttempts: -1, reconnectTimeWait: 250 }).catch(async (e: unknown) => {
      await nc.close();
      throw e;
    });
    let engine: Engine | undefined;
    try {
      const ctlJs: JetStreamClient = ctl.jetstream({ timeout: 10_000 });
      const ctlJsm: JetStreamManager = await ctl.jetstreamManager({ timeout: 10_000 });
      // A generous API timeout: a loaded server (or machine) answers slowly, and a timed-out start is simply retried.
      const jsm: JetStreamManager = await nc.jetstreamManager({ timeout: 10_000 });
      const js: JetStreamClient = nc.jetstream({ timeout: 10_000 });
      const plan = planSubjects(opts.subject);
      await ensureStream(jsm, opts.stream, plan.streamFilter, opts.replicas);
      const leases = await LeaseTable.open(ctlJs, `${opts.group}_leases`, opts.leaseTtlMs, opts.instance, opts.replicas);
      const members = await Membership.open(ctlJs, ctlJsm, `${opts.group}_members`, opts.leaseTtlMs, opts.instance, opts.replicas);
      const snapshots = await PartitionSnapshots.open(js, `${opts.group}_snapshots`, opts.replicas, nc.info?.max_payload ?? 1024 * 1024);
      // A partition start's API calls (progress, consumer info, delete, create) go over the lease connection too: on the
      // data connection their replies wait behind the readings every owned partition pulls, and a takeover waited on them.
      const progress = await ctlJs.views.kv(`${opts.group}_progress`, { history: 1, replicas: opts.replicas });
      // One engine for every partition this instance owns: one ONNX call per batch over all of them.
      engine = new Engine(model, engineOptions);
      const node = new ClusterNode(nc, ctl, { nc, js, jsm: ctlJsm, model, engine, opts, plan, snapshots, progress, counters: newClusterCounters(), starts: new PartitionStarts(), log, out: new ResultOut(nc, opts.resultSubject), acks: new AckTurn() }, leases, members, log);
      await members.heartbeat();
      node.#renewTimer = setInterval(() => node.#renew(), opts.tickMs);
      node.#schedule(0);
      log.info({ group: opts.group, instance: opts.instance, partitions: opts.partitions, stream: opts.stream }, 'joined the cluster');
      return node;
    } catch (e) {
      await engine?.close();
      await nc.close();
      await ctl.close();
      throw e;
    }
  }

  /**
   * Starts, retrying for up to `withinMs` while NATS is not ready (no JetStream
   * responder yet, a bucket's leader being elected while another instance makes
   * it, a timeout): instances of a group start together. A configuration error
   * (EdgeLstmError) is not retried.
   */
  static async startRetrying(opts: ClusterOptions, model: Model, engineOptions: EngineOptions, log: Logger, withinMs = 120_000): Promise<ClusterNode> {
    const t0 = performance.now();
    for (let attempt = 1; ; attempt++) {
      try {
        return await ClusterNode.start(opts, model, engineOptions, log);
      } catch (e) {
        if (e instanceof EdgeLstmError || performance.now() - t0 > withinMs) throw e;
        log.warn({ attempt, err: (e as Error).message }, 'joining the cluster failed; retrying');
        await new Promise((r) => setTimeout(r, Math.min(5000, 250 * attempt)));
      }
    }
  }

  /** Partitions this instance runs now. */
  get owned(): number[] {
    return [...this.#workers.keys()].sort((a, b) => a - b);
  }

  /** Recent partition starts, stage by stage (newest last). */
  get starts(): readonly PartitionStart[] {
    return this.#deps.starts.recent;
  }

  /** Live members as last seen. */
  get members(): readonly string[] {
    return this.#lastMembers;
  }

  /** The shared engine's ONNX Runtime calls (batches) and samples stepped, over every partition this instance has run. */
  get engineBatches(): { batches: number; results: number } {
    const c = this.#deps.engine.counters;
    return { batches: c.batches, results: c.results };
  }

  /** Devices with state over all owned partitions (the shared engine's). */
  get devices(): number {
    return this.#deps.engine.devices;
  }

  /** Forgets a worker: a later start of its partition waits until it has retired from the shared engine. */
  #retire(w: PartitionWorker): void {
    const p = w.partition;
    const r = w.retired.finally(() => {
      if (this.#retiring.get(p) === r) this.#retiring.delete(p);
    });
    this.#retiring.set(p, r);
  }

  #schedule(ms: number): void {
    if (this.#stopped) return;
    this.#rebalanceTimer = setTimeout(() => {
      this.#rebalancing = this.#rebalance()
        .catch((e: unknown) => this.#log.warn({ err: (e as Error).message }, 'rebalance failed; retrying'))
        .finally(() => {
          this.#rebalancing = undefined;
          this.#schedule(this.opts.tickMs);
        });
    }, ms);
  }

  /**
   * Renews the held leases that are due (a third of their validity passed,
   * LeaseTable.due), each on its own: one renewal stuck on a slow reply must
   * not hold the others back (they would lapse behind it). A lease that
   * cannot be renewed is lost and its partition dropped at once.
   */
  #renew(): void {
    if (this.#closed) return;
    this.#members.heartbeat().catch(() => undefined);
    const now = performance.now();
    for (const lease of this.#held.values()) {
      // One renewal of a lease at a time: two in flight would race each other's compare-and-set.
      if (this.#renewing.has(lease) || !this.#leases.due(lease, now)) continue;
      this.#renewing.set(lease, this.#renewOne(lease).finally(() => this.#renewing.delete(lease)));
    }
  }

  async #renewOne(lease: Lease): Promise<void> {
    let ok: boolean;
    try {
      ok = await this.#leases.renew(lease);
    } catch {
      return; // NATS unreachable: keep trying until the lease's own deadline stops publishing
    }
    if (ok || this.#held.get(lease.partition) !== lease) return;
    this.counters.leasesLost++;
    this.#held.delete(lease.partition);
    const w = this.#workers.get(lease.partition);
    this.#workers.delete(lease.partition);
    w?.abandon('lease lost to another instance');
    if (w !== undefined) this.#retire(w);
  }

  async #rebalance(): Promise<void> {
    const seen = await this.#members.members();
    this.#log.debug({ members: seen }, 'rebalance');
    const members = seen.includes(this.opts.instance) ? seen : [...seen, this.opts.instance].sort();
    this.#lastMembers = members;
    const key = members.join('\n');
    if (this.#wanted?.members !== key) this.#wanted = { members: key, partitions: new Set(partitionsOf(this.opts.instance, members, this.opts.partitions)) };
    const wanted = this.#wanted.partitions;
    // Handovers first (another instance waits for them), then restarts and takes; a slow start never holds the next tick up.
    for (const [p, w] of this.#workers) {
      if (this.#busy.has(p)) continue;
      if (w.abandoned || w.failed !== undefined) {
        // The consumer loop ended by itself (or the partition was given up): restart from the snapshot while the lease is ours.
        this.#workers.delete(p);
        if (!w.abandoned) w.abandon(`consumer stopped: ${w.failed?.message ?? 'unknown'}`);
        this.#retire(w);
        const lease = this.#held.get(p);
        if (lease !== undefined && wanted.has(p)) this.#job(p, () => this.#startWorker(lease));
        else if (lease !== undefined) this.#job(p, () => this.#giveUp(lease)); // not ours to run any more: let its new owner take it now
      } else if (!wanted.has(p)) this.#job(p, () => this.#handOver(p, w));
    }
    for (const p of wanted) {
      if (this.#workers.has(p) || this.#busy.has(p)) continue;
      if (this.#busy.size >= MAX_CONCURRENT_JOBS) break;
      const held = this.#held.get(p);
      this.#job(p, () => (held !== undefined ? this.#startWorker(held) : this.#take(p)));
    }
    this.#log.debug({ busy: this.#busy.size, owned: this.#workers.size }, 'rebalanced');
  }

  /** Runs one partition's start or handover in the background; the partition is left alone by rebalancing until it ends. */
  #job(p: number, run: () => Promise<void>): void {
    this.#busy.add(p);
    const j: Promise<void> = run()
      .catch((e: unknown) => this.#log.warn({ partition: p, err: (e as Error).message }, 'partition job failed; retrying'))
      .finally(() => {
        this.#busy.delete(p);
        this.#jobs.delete(j);
      });
    this.#jobs.add(j);
  }

  async #take(p: number): Promise<void> {
    const lease = await this.#leases.acquire(p);
    if (lease === undefined) return; // still held by its previous owner: its lease lapses or it hands over
    this.#held.set(p, lease);
    await this.#startWorker(lease);
  }

  async #startWorker(lease: Lease): Promise<void> {
    if (this.#stopped) return;
    await this.#retiring.get(lease.partition);
    try {
      const w = await PartitionWorker.start(this.#deps, lease);
      if (this.#held.get(lease.partition) !== lease || this.#stopped) {
        w.abandon('lease lost while starting');
        this.#retire(w);
        return;
      }
      this.#workers.set(lease.partition, w);
    } catch (e) {
      this.#log.warn({ partition: lease.partition, err: (e as Error).message }, 'partition start failed; retrying');
    }
  }

  async #handOver(p: number, w: PartitionWorker): Promise<void> {
    this.#workers.delete(p);
    this.#retire(w);
    await w.release();
    const lease = this.#held.get(p);
    this.#held.delete(p);
    if (lease !== undefined) {
      await this.#renewing.get(lease);
      await this.#leases.release(lease);
    }
    this.counters.partitionsReleased++;
  }

  async #giveUp(lease: Lease): Promise<void> {
    this.#held.delete(lease.partition);
    await this.#renewing.get(lease);
    await this.#leases.release(lease);
    this.counters.partitionsReleased++;
  }

  /** Graceful stop: hand every partition over (snapshot, consumer deleted, lease released), leave the group, close. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#rebalanceTimer) clearTimeout(this.#rebalanceTimer);
    await this.#rebalancing;
    await Promise.all([...this.#jobs]);
    await Promise.all([...this.#workers].map(([p, w]) => this.#handOver(p, w).catch((e: unknown) => this.#log.warn({ partition: p, err: (e as Error).message }, 'handover failed'))));
    this.#closed = true;
    if (this.#renewTimer) clearInterval(this.#renewTimer);
    await this.#deps.engine.close();
    await this.#members.leave().catch(() => undefined);
    await this.#nc.drain().catch(() => undefined);
    await this.#ctl.drain().catch(() => undefined);
    this.#log.info({ instance: this.opts.instance, counters: this.counters }, 'left the cluster');
  }
}

async function ensureStream(jsm: JetStreamManager, name: string, subject: string, replicas: number): Promise<void> {
  try {
    const si = await jsm.streams.info(name);
    if (!si.config.subjects?.includes(subject)) {
      throw new Error(`stream ${name} exists but does not capture ${subject} (it captures ${si.config.subjects?.join(', ') ?? 'nothing'})`);
    }
  } catch (e) {
    if (!/stream not found/i.test((e as Error).message)) throw e;
    await jsm.streams.add({ name, subjects: [subject], num_replicas: replicas, storage: StorageType.File });
  }
}
