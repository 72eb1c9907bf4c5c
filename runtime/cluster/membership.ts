import type { JetStreamClient, JetStreamManager, KV } from 'nats';
import { ttlBucket } from './leases';

/**
 * The live instances of a group: each writes its name into a KV bucket every
 * tick; the bucket's max age removes an instance that stopped (crash, freeze,
 * network cut) after the time to live. Leaving gracefully deletes the entry.
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

  /** Names of the live members, sorted (this one included once it has sent a heartbeat). */
  async members(): Promise<string[]> {
    // The bucket stream's subject list in one request (KV keys() is an ordered consumer that can end early while keys are being written).
    const prefix = `$KV.${this.#bucket}.`;
    const si = await this.#jsm.streams.info(`KV_${this.#bucket}`, { subjects_filter: `${prefix}>` });
    const out: string[] = [];
    await Promise.all(Object.keys(si.state.subjects ?? {}).map(async (subject) => {
      const name = subject.slice(prefix.length);
      const e = await this.#kv.get(name);
      if (e !== null && e.operation === 'PUT') out.push(name);
    }));
    return out.sort();
  }

  async leave(): Promise<void> {
    await this.#kv.delete(this.#me);
  }
}
