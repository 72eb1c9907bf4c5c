import { performance } from 'node:perf_hooks';
import type { JetStreamClient, KV } from 'nats';
import { EdgeLstmError } from '../errors';

/** A partition lease held by this instance: the KV revision it was last written at, and until when it is surely still ours. */
export interface Lease {
  readonly partition: number;
  revision: number;
  /** performance.now() after which the lease may have lapsed on the server (no renewal seen in time). */
  validUntil: number;
  /** Epoch ms it was taken (for the takeover's stages). */
  readonly acquiredAt: number;
}

/**
 * Partition leases as entries of a JetStream KV bucket whose max age is the
 * lease's time to live. Taking a lease is a `create` (refused while any live
 * entry exists), renewing it an `update` on the revision we wrote last
 * (compare-and-set: refused once anyone else wrote the key), and a lease whose
 * owner stopped renewing ages out on the server. Only the server's clock
 * decides when a lease lapses; this instance only measures how long since it
 * sent its last successful renewal, on its own monotonic clock, and stops
 * publishing before that reaches the time to live.
 *
 * A lease is renewed once a third of the time it is surely ours has passed
 * (`due`), not on every tick: with the defaults (3 s, a 750 ms margin) about
 * once a second per partition, leaving two more ticks' tries before the
 * owner's own deadline. Safety does not depend on how often it is renewed:
 * the server lapses the entry after the time to live from the last write, and
 * the owner stops publishing at its deadline either way.
 */
export class LeaseTable {
  readonly #kv: KV;
  readonly #ttlMs: number;
  readonly #owner: string;
  // Renewals that took longer than this margin are treated as lapsing sooner: a
  // network round trip and the server's expiry timer both eat into the lease.
  readonly #marginMs: number;

  private constructor(kv: KV, ttlMs: number, owner: string) {
    this.#kv = kv;
    this.#ttlMs = ttlMs;
    this.#owner = owner;
    this.#marginMs = Math.min(1000, ttlMs / 4);
  }

  static async open(js: JetStreamClient, bucket: string, ttlMs: number, owner: string, replicas: number): Promise<LeaseTable> {
    return new LeaseTable(await ttlBucket(js, bucket, ttlMs, replicas), ttlMs, owner);
  }

  /** Takes a partition's lease if nobody holds it; undefined when it is held. */
  async acquire(partition: number): Promise<Lease | undefined> {
    const sent = performance.now();
    try {
      const revision = await this.#kv.create(key(partition), this.#owner);
      return { partition, revision, validUntil: sent + this.#ttlMs - this.#marginMs, acquiredAt: Date.now() };
    } catch (e) {
      if (isWrongSequence(e)) return undefined;
      throw e;
    }
  }

  /** Whether a held lease should be renewed now: a third of the time it is surely ours since the last renewal was sent. */
  due(lease: Lease, now: number): boolean {
    return now >= lease.validUntil - ((this.#ttlMs - this.#marginMs) * 2) / 3;
  }

  /** Renews a held lease; false when it was lost (lapsed and taken, or deleted). */
  async renew(lease: Lease): Promise<boolean> {
    const sent = performance.now();
    try {
      lease.revision = await this.#kv.update(key(lease.partition), this.#owner, lease.revision);
      lease.validUntil = sent + this.#ttlMs - this.#marginMs;
      return true;
    } catch (e) {
      if (isWrongSequence(e)) return false;
      throw e;
    }
  }

  /** Gives a lease back at once (graceful handoff), only if it is still ours. */
  async release(lease: Lease): Promise<void> {
    try {
      await this.#kv.delete(key(lease.partition), { previousSeq: lease.revision });
    } catch (e) {
      if (!isWrongSequence(e)) throw e;
    }
    lease.validUntil = 0;
  }

  /** Who holds a partition now (for status), or undefined. */
  async holder(partition: number): Promise<string | undefined> {
    const e = await this.#kv.get(key(partition));
    return e !== null && e.operation === 'PUT' ? e.string() : undefined;
  }
}

const key = (p: number): string => `p${p}`;

/**
 * A KV bucket whose entries age out after `ttlMs`: made if missing, refused if
 * it exists with another max age (leases that never lapse would stop every
 * takeover; instances of one group must agree on the time to live).
 */
export async function ttlBucket(js: JetStreamClient, bucket: string, ttlMs: number, replicas: number): Promise<KV> {
  const kv = await js.views.kv(bucket, { ttl: ttlMs, history: 1, replicas });
  const found = (await kv.status()).ttl;
  if (found !== ttlMs) {
    throw new EdgeLstmError('E_CONFIG', `KV bucket ${bucket} keeps entries for ${found === 0 ? 'ever' : `${found} ms`}, this instance needs ${ttlMs} ms: every instance of a group must use the same --lease-ttl-ms (or delete the bucket)`, { field: 'lease-ttl-ms', expected: String(ttlMs), found: String(found) });
  }
  return kv;
}

function isWrongSequence(e: unknown): boolean {
  const m = (e as Error).message ?? '';
  return m.includes('wrong last sequence') || (e as { api_error?: { err_code?: number } }).api_error?.err_code === 10071;
}
