import type { JetStreamClient, JetStreamManager, KV } from 'nats';
import { ttlBucket } from './leases';

/**
 * The live instances of a group: each writes its name into a KV bucket every
 * tick; the bucket's max age removes an instance that stopped (crash, freeze,
 * network cut) after the time to live. Leaving gracefully purges the entry
 * from the bucket's stream (no delete marker is left), so every subject the
 * stream holds is a live member: the list is one request, with no read of
 * each member's entry (a rebalance tick made 1 + members requests).
 */
export class Membership {
  readonly #kv: KV;
  readonly #jsm: JetStreamManager;
  readonly #bucket: string;
  readonly #me: string;

  private constructor(kv: KV, jsm: JetStreamManager, bucket: string, me: string) {
    this.#kv = kv;
    this.#jsm = jsm;
    this.#bucket = bucket;
    this.#me = me;
  }

  static async open(js: JetStreamClient, jsm: JetStreamManager, bucket: string, ttlMs: number, me: string, replicas: number): Promise<Membership> {
    return new Membership(await ttlBucket(js, bucket, ttlMs, replicas), jsm, bucket, me);
  }

  async heartbeat(): Promise<void> {
    await this.#kv.put(this.#me, String(Date.now()));
  }

  /**
   * Names of the live members, sorted (this one included once it has sent a heartbeat): the bucket stream's subject
   * list in one request (KV keys() is an ordered consumer that can end early while keys are being written). Entries
   * are only ever written by heartbeats and removed by age or a leave's purge; a delete marker (an instance of an
   * earlier version leaving) counts as a member until it ages out, as a crashed one does.
   */
  async members(): Promise<string[]> {
    const prefix = `$KV.${this.#bucket}.`;
    const si = await this.#jsm.streams.info(`KV_${this.#bucket}`, { subjects_filter: `${prefix}>` });
    return Object.keys(si.state.subjects ?? {}).map((subject) => subject.slice(prefix.length)).sort();
  }

  /** Leaves the group at once: the entry is purged from the stream, so members() stops listing it on the next tick. */
  async leave(): Promise<void> {
    await this.#jsm.streams.purge(`KV_${this.#bucket}`, { filter: `$KV.${this.#bucket}.${this.#me}` });
  }
}
