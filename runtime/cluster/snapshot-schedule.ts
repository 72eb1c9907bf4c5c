// The module's performance, not the global: in Node 20 every read of the global goes through a lazy getter.
import { performance } from 'node:perf_hooks';

/**
 * When a partition is snapshotted next: after `every` readings acknowledged
 * since the last snapshot, or after `intervalMs` with at least one.
 */
export class SnapshotSchedule {
  /** The stream sequence the last snapshot holds readings up to. */
  #seq: number;
  #since = 0;
  #lastAt = performance.now();
  readonly #every: number;
  readonly #intervalMs: number;

  constructor(seq: number, every: number, intervalMs: number) {
    this.#seq = seq;
    this.#every = every;
    this.#intervalMs = intervalMs;
  }

  get seq(): number {
    return this.#seq;
  }

  /** Readings acknowledged since the last call. */
  acknowledged(n: number): void {
    this.#since += n;
  }

  get due(): boolean {
    return this.#since >= this.#every || (this.#since > 0 && performance.now() - this.#lastAt >= this.#intervalMs);
  }

  /** A snapshot up to `seq` was stored at `at` (performance.now()). */
  stored(seq: number, at: number): void {
    this.#seq = seq;
    this.#since = 0;
    this.#lastAt = at;
  }
}
