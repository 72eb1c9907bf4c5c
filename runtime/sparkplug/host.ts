import type { Sample } from '../engine/sample';
import { EdgeLstmError } from '../errors';
import { BDSEQ_METRIC, decodeSparkplug, REBIRTH_METRIC, type SparkplugMetric, type SparkplugPayload } from './codec';
import { SparkplugCounts, type SparkplugEvent } from './counts';
import { parseSparkplugTopic, STATE_PREFIX, type SparkplugTopic } from './topic';

export interface SparkplugHostOptions {
  /** The model's input features, in order. */
  features: readonly string[];
  /** Metric name -> feature name, for metrics not named as the feature (default: a metric feeds the feature of its own name). */
  metricMap?: ReadonlyMap<string, string>;
  /** Larger payloads are refused before decoding. */
  maxBytes: number;
  /** Least time between two rebirth requests to one edge node (a burst of data after a lost birth asks once). */
  rebirthIntervalMs: number;
  /** Sends `Node Control/Rebirth` to an edge node (an NCMD). */
  requestRebirth(group: string, edge: string): void;
  /** Our own edge node (results published as Sparkplug): its messages are not readings. */
  self?: { group: string; edge: string };
  /** An NCMD asking our own edge node for a rebirth. */
  onRebirthCommand?(): void;
  /** Edge nodes kept at most (default MAX_SPARKPLUG_NODES); births beyond are refused. */
  maxNodes?: number;
  /** Devices per edge node kept at most (default MAX_SPARKPLUG_DEVICES_PER_NODE). */
  maxDevicesPerNode?: number;
}

/** What a device (or the edge node itself) announced in its birth certificate, and its latest values. */
interface Entity {
  /** alias -> metric name, from the birth certificate. */
  aliases: Map<number, string>;
  /** Latest value per feature (NaN: never reported): Sparkplug reports by exception, so a DDATA carries only what changed. */
  values: Float64Array;
  online: boolean;
}

interface NodeSession extends Entity {
  bdSeq: number | undefined;
  /** seq of the last message from the node (0-255). */
  seq: number;
  devices: Map<string, Entity>;
}

function sortedByTs(u: readonly { ts: number | undefined }[]): boolean {
  for (let i = 1; i < u.length; i++) if ((u[i - 1]!.ts ?? Infinity) > (u[i]!.ts ?? Infinity)) return false;
  return true;
}

/** Edge nodes remembered for rate-limiting rebirth requests, at most (ids come from topics). */
const MAX_REBIRTH_MEMORY = 10_000;
/** Edge nodes, and devices per edge node, whose births are kept at most: ids come from topics, so memory is bounded. */
export const MAX_SPARKPLUG_NODES = 100_000;
export const MAX_SPARKPLUG_DEVICES_PER_NODE = 100_000;

/**
 * The host-application side of Sparkplug B (Sparkplug 3.0, chapter 7):
 * birth certificates per edge node and device, their alias tables, the
 * node's sequence numbers, deaths, and rebirth requests. `ingest` turns a
 * message into the engine's samples, one per distinct metric timestamp,
 * with every feature's latest value; device id `group/edge/device` (the
 * node's own metrics: `group/edge`).
 *
 * Refused messages throw (E_PAYLOAD: not Sparkplug; E_SPARKPLUG: no birth
 * seen, unknown alias) and change no device's values or alias table. A
 * message after a sequence gap is kept and a rebirth is requested.
 */
export class SparkplugHost {
  readonly counts = new SparkplugCounts();
  readonly #o: SparkplugHostOptions;
  readonly #nodes = new Map<string, NodeSession>();
  readonly #lastRebirth = new Map<string, number>();
  /** metric name -> feature index. */
  readonly #featureOf = new Map<string, number>();
  #F: number;

  constructor(o: SparkplugHostOptions) {
    this.#o = o;
    this.#F = o.features.length;
    const unknown = this.#map(o.features, o.metricMap);
    if (unknown.length > 0) throw new EdgeLstmError('E_CONFIG', `sparkplug metric map names feature "${unknown[0]!}", not one of the model's`, { field: 'sparkplug-metrics', expected: o.features.join(', '), found: unknown[0]! });
  }

  /** Fills metric name -> feature index; returns the map's features the model lacks (their entries not used). */
  #map(features: readonly string[], metricMap: ReadonlyMap<string, string> | undefined): string[] {
    this.#featureOf.clear();
    features.forEach((f, i) => this.#featureOf.set(f, i));
    const unknown: string[] = [];
    for (const [metric, feature] of metricMap ?? []) {
      const i = features.indexOf(feature);
      if (i < 0) unknown.push(feature);
      else this.#featureOf.set(metric, i);
    }
    return unknown;
  }

  /**
   * A model with other features is in use: metrics map to its features (by name, or by `metricMap`, whose
   * entries naming a feature it lacks are returned and left unused), every device's latest values are
   * forgotten (they were the old features'), and every edge node with a live session is asked for a rebirth
   * (its births carry every metric's value again). Alias tables are kept: they name metrics, not features.
   */
  setFeatures(features: readonly string[], metricMap?: ReadonlyMap<string, string>): string[] {
    this.#F = features.length;
    const unknown = this.#map(features, metricMap);
    for (const [key, node] of this.#nodes) {
      node.values = new Float64Array(this.#F).fill(NaN);
      for (const d of node.devices.values()) d.values = new Float64Array(this.#F).fill(NaN);
      if (!node.online) continue;
      const slash = key.indexOf('/');
      this.#rebirth(key.slice(0, slash), key.slice(slash + 1), Date.now(), true);
    }
    return unknown;
  }

  /** Engine device id of a Sparkplug device (or, without `device`, of the edge node's own metrics). */
  static deviceId(group: string, edge: string, device?: string): string {
    return device === undefined ? `${group}/${edge}` : `${group}/${edge}/${device}`;
  }

  /** Whether an edge node (and, given, one of its devices) is online as its births and deaths say. */
  online(group: string, edge: string, device?: string): boolean {
    const n = this.#nodes.get(`${group}/${edge}`);
    if (!n || !n.online) return false;
    return device === undefined ? true : n.devices.get(device)?.online ?? false;
  }

  /** One message: the samples it carries (none for births, deaths, commands). Throws for a refused message. */
  ingest(topic: string, payload: Uint8Array, now = Date.now()): Sample[] {
    try {
      return this.#ingest(topic, payload, now);
    } catch (e) {
      const code = (e as EdgeLstmError).code;
      if (code === 'E_PAYLOAD' || code === 'E_TOPIC') this.counts.add('bad_payload');
      throw e;
    }
  }

  #ingest(topic: string, payload: Uint8Array, now: number): Sample[] {
    // Host applications' STATE (spBv1.0/STATE/<host id>, JSON): not an edge node's message.
    if (topic.startsWith(STATE_PREFIX)) return this.#count('ignored', []);
    const t: SparkplugTopic = parseSparkplugTopic(topic);
    const self = this.#o.self;
    if (self !== undefined && t.group === self.group && t.edge === self.edge) {
      // Our own births and data come back through the wildcard subscription; only an NCMD is for us.
      if (t.type === 'NCMD' && decodeSparkplug(payload, this.#o.maxBytes).metrics.some((m) => m.name === REBIRTH_METRIC && m.value === true)) this.#o.onRebirthCommand?.();
      return [];
    }
    if (t.type === 'NCMD' || t.type === 'DCMD') return this.#count('ignored', []);
    const p = decodeSparkplug(payload, this.#o.maxBytes);
    const key = `${t.group}/${t.edge}`;
    const node = this.#nodes.get(key);
    switch (t.type) {
      case 'NBIRTH':
        return this.#nodeBirth(key, node, p);
      case 'NDEATH': {
        const bd = p.metrics.find((m) => m.name === BDSEQ_METRIC)?.value;
        // A death whose bdSeq is not the live session's is an old session's will, delivered late (section 7.3).
        if (!node || !node.online || (typeof bd === 'number' && node.bdSeq !== undefined && bd !== node.bdSeq)) return this.#count('stale_death', []);
        node.online = false;
        for (const d of node.devices.values()) d.online = false;
        return this.#count('death', []);
      }
    }
    if (!node || !node.online) throw this.#noBirth(t, now, `no NBIRTH seen from edge node ${key}`);
    this.#checkSeq(t, node, p, now);
    switch (t.type) {
      case 'DBIRTH':
        return this.#deviceBirth(node, t.device!, p);
      case 'DDEATH': {
        const d = node.devices.get(t.device!);
        if (d) d.online = false;
        return this.#count('death', []);
      }
      case 'NDATA':
        return this.#data(t, node, p, SparkplugHost.deviceId(t.group, t.edge), now);
      default: {
        const d = node.devices.get(t.device!);
        if (!d || !d.online) throw this.#noBirth(t, now, `no DBIRTH seen for device ${key}/${t.device!}`);
        return this.#data(t, d, p, SparkplugHost.deviceId(t.group, t.edge, t.device), now);
      }
    }
  }

  #nodeBirth(key: string, before: NodeSession | undefined, p: SparkplugPayload): Sample[] {
    const max = this.#o.maxNodes ?? MAX_SPARKPLUG_NODES;
    if (before === undefined && this.#nodes.size >= max) throw this.#limit('edge nodes', max, key);
    const e = this.#birth(p, before);
    const bd = p.metrics.find((m) => m.name === BDSEQ_METRIC)?.value;
    // A new session: every device must be born again (section 7.2).
    this.#nodes.set(key, { ...e, bdSeq: typeof bd === 'number' ? bd : undefined, seq: p.seq ?? 0, devices: new Map() });
    this.#lastRebirth.delete(key);
    return this.#count('birth', []);
  }

  #deviceBirth(node: NodeSession, device: string, p: SparkplugPayload): Sample[] {
    const max = this.#o.maxDevicesPerNode ?? MAX_SPARKPLUG_DEVICES_PER_NODE;
    if (!node.devices.has(device) && node.devices.size >= max) throw this.#limit('devices of one edge node', max, device);
    node.devices.set(device, this.#birth(p, node.devices.get(device)));
    return this.#count('birth', []);
  }

  /** An entity from a birth certificate (validated before anything is kept): its aliases and the values it announces. */
  #birth(p: SparkplugPayload, before: Entity | undefined): Entity {
    const aliases = new Map<number, string>();
    // Values the device had survive a rebirth; the birth's own values replace them.
    const values = before ? before.values.slice() : new Float64Array(this.#F).fill(NaN);
    for (const m of p.metrics) {
      if (m.name === undefined) throw this.#refuse('E_PAYLOAD', 'a birth certificate metric has no name', 'name', 'a metric name', `alias ${m.alias ?? 'none'}`);
      if (m.alias !== undefined) aliases.set(m.alias, m.name);
      const f = this.#featureOf.get(m.name);
      if (f !== undefined && m.value !== null) values[f] = this.#value(m, m.name);
    }
    return { aliases, values, online: true };
  }

  /**
   * NDATA/DDATA: the mapped metrics, grouped by timestamp (metric's, else the payload's, else arrival),
   * each group one sample holding every feature's latest value. Validated in full before the entity's
   * values change.
   */
  #data(t: SparkplugTopic, e: Entity, p: SparkplugPayload, device: string, now: number): Sample[] {
    let updates: { ts: number | undefined; f: number; v: number }[] | undefined;
    for (const m of p.metrics) {
      let name = m.name;
      if (name === undefined) {
        if (m.alias === undefined) throw this.#refuse('E_PAYLOAD', 'a metric has neither name nor alias', 'metric', 'a name or an alias', 'neither');
        name = e.aliases.get(m.alias);
        if (name === undefined) {
          this.counts.add('unknown_alias');
          this.#rebirth(t.group, t.edge, now);
          throw this.#refuse('E_SPARKPLUG', `alias ${m.alias} was not announced in the birth certificate of ${device}`, 'alias', `an alias of the birth certificate (${e.aliases.size} announced)`, `${m.alias}`);
        }
      }
      const f = this.#featureOf.get(name);
      if (f === undefined || m.value === null) continue;
      (updates ??= []).push({ ts: m.timestamp ?? p.timestamp, f, v: this.#value(m, name) });
    }
    if (updates === undefined) return this.#count('ignored', []);
    // Most messages carry one timestamp: sorted already, no comparator call.
    if (!sortedByTs(updates)) updates.sort((a, b) => (a.ts ?? Infinity) - (b.ts ?? Infinity));
    const F = this.#F;
    const values = e.values.slice();
    const samples: Sample[] = [];
    for (let i = 0; i < updates.length; ) {
      const ts = updates[i]!.ts;
      for (; i < updates.length && updates[i]!.ts === ts; i++) values[updates[i]!.f] = updates[i]!.v;
      const out = new Array<number>(F);
      for (let f = 0; f < F; f++) {
        const v = values[f]!;
        if (Number.isNaN(v)) throw this.#refuse('E_PAYLOAD', `feature "${this.#o.features[f]!}" has no value yet for ${device}`, this.#o.features[f]!, 'a value in this message or in the birth certificate', 'none');
        out[f] = v;
      }
      const s: Sample = { device, values: out };
      if (ts !== undefined) s.ts = ts;
      samples.push(s);
    }
    e.values = values;
    return samples;
  }

  #value(m: SparkplugMetric, name: string): number {
    const v = m.value;
    const x = typeof v === 'boolean' ? (v ? 1 : 0) : v;
    if (typeof x !== 'number' || !Number.isFinite(x)) throw this.#refuse('E_PAYLOAD', `metric "${name}" is not a finite number`, name, 'a finite number or a boolean', typeof v === 'string' ? 'a string' : `${v}`);
    return x;
  }

  /** seq runs 0-255 and wraps (section 6.4.19); a gap means lost messages, perhaps a birth: ask for a rebirth. */
  #checkSeq(t: SparkplugTopic, node: NodeSession, p: SparkplugPayload, now: number): void {
    if (p.seq === undefined) return;
    if (p.seq !== ((node.seq + 1) & 255)) {
      this.counts.add('seq_gap');
      this.#rebirth(t.group, t.edge, now);
    }
    node.seq = p.seq;
  }

  #noBirth(t: SparkplugTopic, now: number, message: string): EdgeLstmError {
    this.counts.add('no_birth');
    this.#rebirth(t.group, t.edge, now);
    return this.#refuse('E_SPARKPLUG', `${t.type} dropped: ${message}; rebirth requested`, 'birth', t.type === 'NDATA' || t.device === undefined ? 'NBIRTH' : 'DBIRTH', 'none');
  }

  /** Asks an edge node for its births, at most once per rebirthIntervalMs unless `always` (a new model's features). */
  #rebirth(group: string, edge: string, now: number, always = false): void {
    const key = `${group}/${edge}`;
    const last = this.#lastRebirth.get(key);
    if (!always && last !== undefined && now - last < this.#o.rebirthIntervalMs) return;
    if (this.#lastRebirth.size >= MAX_REBIRTH_MEMORY) this.#lastRebirth.clear();
    this.#lastRebirth.set(key, now);
    this.counts.add('rebirth_request');
    this.#o.requestRebirth(group, edge);
  }

  #limit(what: string, max: number, id: string): EdgeLstmError {
    this.counts.add('over_limit');
    return this.#refuse('E_SPARKPLUG', `birth of ${id} refused: ${max} ${what} already known`, 'birth', `at most ${max} ${what}`, id);
  }

  #count(e: SparkplugEvent, out: Sample[]): Sample[] {
    this.counts.add(e);
    return out;
  }

  #refuse(code: 'E_PAYLOAD' | 'E_SPARKPLUG', message: string, field: string, expected: string, found: string): EdgeLstmError {
    return new EdgeLstmError(code, message, { field, expected, found });
  }
}
