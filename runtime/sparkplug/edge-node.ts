import type { Result } from '../engine/sample';
import { BDSEQ_METRIC, encodeSparkplug, REBIRTH_METRIC, type OutMetric } from './codec';
import { sparkplugId, sparkplugTopic } from './topic';

/** Publishes one message; `done` once it is written (QoS 0) or acknowledged. */
export type SparkplugPublish = (topic: string, payload: Buffer, qos: 0 | 1, done?: () => void) => void;

export interface EdgeNodeOptions {
  /** Sparkplug group id of edgelstm's edge node. */
  group: string;
  /** Its edge node id. */
  node: string;
  /** The model's input features (what a result's values hold). */
  features: readonly string[];
  /** The model's targets (what expected and forecast hold). */
  targets: readonly string[];
  publish: SparkplugPublish;
  /** The bdSeq of the first session (default 0): the one a previous run stored (BdSeqFile). */
  bdSeq?: number;
  /** Called with the bdSeq the next session will use, each time the current one is fixed (to persist it). */
  onNextBdSeq?(next: number): void;
}

/**
 * edgelstm as a Sparkplug B edge node (Sparkplug 3.0, chapter 6): each
 * device with results is a Sparkplug device. NBIRTH on every connection
 * (bdSeq, seq 0), NDEATH as the MQTT will with the same bdSeq, a DBIRTH
 * before a device's first DDATA (and again for every device after a
 * rebirth), one DDATA per result, seq 0-255 across all of them.
 *
 * A device's metrics: likelihood, score (Double, null until it has a
 * forecast), anomaly, warmup (Boolean), value/<feature> per feature, and
 * expected/<t>, forecast/<t> per target (Double; the first forecast step).
 */
export class SparkplugEdgeNode {
  readonly #o: EdgeNodeOptions;
  #bdSeq = 0;
  #seq = 0;
  /** Device id (as in results) -> its Sparkplug id and last metrics (for DBIRTH after a rebirth). */
  readonly #born = new Map<string, { id: string; last: OutMetric[] }>();
  #connected = false;
  #features: readonly string[];
  #targets: readonly string[];

  constructor(o: EdgeNodeOptions) {
    this.#o = o;
    this.#features = o.features;
    this.#targets = o.targets;
    this.#bdSeq = (o.bdSeq ?? 0) & 255;
    o.onNextBdSeq?.((this.#bdSeq + 1) & 255);
  }

  /** The MQTT will of the current session: NDEATH with its bdSeq (QoS 1, not retained, section 6.4.3). */
  will(): { topic: string; payload: Buffer; qos: 1; retain: false } {
    return { topic: sparkplugTopic(this.#o.group, 'NDEATH', this.#o.node), payload: encodeSparkplug({ timestamp: Date.now(), metrics: [{ name: BDSEQ_METRIC, type: 'Int64', value: this.#bdSeq }] }), qos: 1, retain: false };
  }

  get bdSeq(): number {
    return this.#bdSeq;
  }

  /** A new MQTT session: NBIRTH, then a DBIRTH for every device already known. */
  connected(): void {
    this.#connected = true;
    this.#seq = -1;
    this.#birthAll();
  }

  /** The session ended: the next one gets the next bdSeq (set the returned will before reconnecting). */
  disconnected(): void {
    this.#connected = false;
    this.#bdSeq = (this.#bdSeq + 1) & 255;
    this.#o.onNextBdSeq?.((this.#bdSeq + 1) & 255);
  }

  /** An NCMD `Node Control/Rebirth` for us: new births with the same bdSeq and seq from 0. */
  rebirth(): void {
    if (!this.#connected) return;
    this.#seq = -1;
    this.#birthAll();
  }

  /**
   * A model with other features or targets is in use: a device's metric set changes, which Sparkplug
   * announces with births (section 6.4.6). A new NBIRTH (same bdSeq, seq from 0) ends the devices' births at
   * every host; each device is born again, with the new metrics, before its next DDATA.
   */
  reshape(features: readonly string[], targets: readonly string[]): void {
    this.#features = features;
    this.#targets = targets;
    this.#born.clear();
    this.rebirth();
  }

  /** Publishes a result as DDATA (its device's DBIRTH first, if it has none yet). */
  result(r: Result, done: () => void): void {
    const metrics = this.#metrics(r);
    let d = this.#born.get(r.device);
    if (d === undefined) {
      d = { id: sparkplugId(r.device), last: metrics };
      this.#born.set(r.device, d);
      this.#publish('DBIRTH', d.id, r.ts, metrics);
    } else d.last = metrics;
    this.#publish('DDATA', d.id, r.ts, metrics, done);
  }

  /** A device the engine forgot (evicted, expired): DDEATH. */
  forget(device: string): void {
    const d = this.#born.get(device);
    if (d === undefined) return;
    this.#born.delete(device);
    if (this.#connected) this.#publish('DDEATH', d.id, Date.now(), []);
  }

  /** A graceful end: NDEATH ourselves (the will goes only on an unexpected disconnect). */
  death(): { topic: string; payload: Buffer } {
    return this.will();
  }

  #birthAll(): void {
    const now = Date.now();
    this.#publish(undefined, undefined, now, [
      { name: BDSEQ_METRIC, type: 'Int64', value: this.#bdSeq },
      { name: REBIRTH_METRIC, type: 'Boolean', value: false },
    ]);
    for (const d of this.#born.values()) this.#publish('DBIRTH', d.id, now, d.last);
  }

  #publish(type: 'DBIRTH' | 'DDATA' | 'DDEATH' | undefined, device: string | undefined, ts: number, metrics: OutMetric[], done?: () => void): void {
    this.#seq = (this.#seq + 1) & 255;
    const topic = type === undefined ? sparkplugTopic(this.#o.group, 'NBIRTH', this.#o.node) : sparkplugTopic(this.#o.group, type, this.#o.node, device);
    // Sparkplug publishes births and data at QoS 0 (sections 6.4.5, 6.4.9).
    this.#o.publish(topic, encodeSparkplug({ timestamp: ts, seq: this.#seq, metrics }), 0, done);
  }

  #metrics(r: Result): OutMetric[] {
    const ts = r.ts;
    const m: OutMetric[] = [
      { name: 'likelihood', type: 'Double', value: r.likelihood, timestamp: ts },
      { name: 'score', type: 'Double', value: r.score, timestamp: ts },
      { name: 'anomaly', type: 'Boolean', value: r.anomaly, timestamp: ts },
      { name: 'warmup', type: 'Boolean', value: r.warmup, timestamp: ts },
    ];
    this.#features.forEach((f, i) => m.push({ name: `value/${f}`, type: 'Double', value: r.values[i] ?? null, timestamp: ts }));
    const T = this.#targets.length;
    for (let i = 0; i < T; i++) {
      const t = this.#targets[i]!;
      m.push(
        { name: `expected/${t}`, type: 'Double', value: r.expected?.[i] ?? null, timestamp: ts },
        { name: `forecast/${t}`, type: 'Double', value: r.forecast[i] ?? null, timestamp: ts },
      );
    }
    return m;
  }
}
