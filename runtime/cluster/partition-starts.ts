/**
 * How one partition start went, stage by stage (for /health and the
 * takeover benchmark): wall-clock times so that they can be set against the
 * moment an instance died, durations of the JetStream steps in between.
 */
export interface PartitionStart {
  partition: number;
  /** Epoch ms the lease was taken. */
  acquiredAt: number;
  /** Reading the partition's snapshot from the KV bucket. */
  snapshotMs: number;
  /** Restoring it into the shared engine's store. */
  restoreMs: number;
  /** Reading the earlier owners' progress and consumer, recording ours (compare-and-set). */
  progressMs: number;
  /** Deleting the previous owner's consumer. */
  fenceMs: number;
  /** Creating our consumer. */
  consumerMs: number;
  /** Epoch ms the consumer was ready. */
  readyAt: number;
  /** Readings in the stream after the snapshot when the consumer was made (the replay, plus what came in meanwhile). */
  backlog: number;
  /** Epoch ms the consumer had nothing more pending (the replay done); undefined until then. */
  caughtUpAt: number | undefined;
}

/** The most recent starts, newest last. */
export class PartitionStarts {
  readonly #keep: number;
  readonly recent: PartitionStart[] = [];

  constructor(keep = 256) {
    this.#keep = keep;
  }

  add(s: PartitionStart): void {
    this.recent.push(s);
    if (this.recent.length > this.#keep) this.recent.splice(0, this.recent.length - this.#keep);
  }
}
