import type { MqttClient } from 'mqtt';
import { Counter, type Registry } from 'prom-client';
import type { Result, Sample } from '../engine/sample';
import { codec, decodeSparkplug, encodeSparkplug, REBIRTH_METRIC } from './codec';
import { SPARKPLUG_EVENTS } from './counts';
import { SparkplugEdgeNode } from './edge-node';
import { SparkplugHost } from './host';
import { BdSeqFile } from './bdseq-file';
import { SparkplugHostState, stateConnector } from './host-state';
import { SPARKPLUG_NAMESPACE, sparkplugTopic } from './topic';
import { boundedPublish } from './bounded-publish';

export { boundedPublish };

/** The Sparkplug options of `edgelstm run`, after validation. */
export interface SparkplugConfig {
  /** Results as Sparkplug DDATA of edgelstm's own edge node (else JSON on --output). */
  results: boolean;
  /** Group id and edge node id of edgelstm's edge node. */
  group: string;
  node: string;
  /** Metric name -> feature name (--sparkplug-metrics). */
  metricMap: ReadonlyMap<string, string>;
  rebirthIntervalMs: number;
  /** Sparkplug host id of the STATE edgelstm publishes as a primary host application (--payload sparkplug; unset: none). */
  hostId?: string | undefined;
  /** The service's state file: the edge node's next bdSeq is kept beside it (BdSeqFile). */
  stateFile?: string | undefined;
}

/** Where the link logs its events (the service's logger). */
export interface SparkplugLog {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
}

/** The subscription of `--payload sparkplug`: every group's node and device messages (4 and 5 levels). */
export const SPARKPLUG_INPUT = `${SPARKPLUG_NAMESPACE}/+/+/+/#`;

/**
 * Sparkplug B in the service: readings in through SparkplugHost, results
 * out through SparkplugEdgeNode (when asked), rebirth requests and births
 * on the service's MQTT client, counts as edgelstm_sparkplug_events_total.
 */
export class SparkplugLink {
  readonly host: SparkplugHost;
  readonly edge: SparkplugEdgeNode | undefined;
  /** NCMD topic of our edge node when it is not inside the Sparkplug input subscription (JSON readings). */
  readonly #commandTopic: string | undefined;
  #client: MqttClient | undefined;
  readonly #hostId: string | undefined;
  readonly #log: SparkplugLog | undefined;
  /** The primary host's STATE session (made in attach, with --payload sparkplug and a host id). */
  #state: SparkplugHostState | undefined;
  #stopped = false;
  readonly #metricMap: ReadonlyMap<string, string>;
  #shape: { features: readonly string[]; targets: readonly string[] };

  constructor(cfg: SparkplugConfig, shape: { features: readonly string[]; targets: readonly string[] }, maxBytes: number, registry: Registry, readsSparkplug: boolean, log?: SparkplugLog) {
    // The codec is a peer dependency: a missing one stops start-up with the install command, not the first message.
    codec();
    const publish = (topic: string, payload: Buffer, qos: 0 | 1, done?: () => void): void => {
      const c = this.#client;
      if (c === undefined) return done?.();
      c.publish(topic, payload, { qos }, () => done?.());
    };
    this.#commandTopic = cfg.results && !readsSparkplug ? sparkplugTopic(cfg.group, 'NCMD', cfg.node) : undefined;
    this.#hostId = readsSparkplug ? cfg.hostId : undefined;
    this.#log = log;
    this.#metricMap = cfg.metricMap;
    this.#shape = shape;
    // The edge node's bdSeq goes on across restarts when there is a state file (a late NDEATH of the last run kills no new session).
    const bdSeqFile = cfg.results && cfg.stateFile !== undefined ? new BdSeqFile(cfg.stateFile) : undefined;
    const persist = bdSeqFile
      ? {
          bdSeq: bdSeqFile.read(),
          onNextBdSeq: (next: number): void => {
            try {
              bdSeqFile.write(next);
            } catch (e) {
              log?.warn('Sparkplug bdSeq not saved: a restart may reuse this session\'s bdSeq', { file: bdSeqFile.path, err: (e as Error).message });
            }
          },
        }
      : {};
    this.edge = cfg.results ? new SparkplugEdgeNode({ group: cfg.group, node: cfg.node, features: shape.features, targets: shape.targets, publish, ...persist }) : undefined;
    this.host = new SparkplugHost({
      features: shape.features,
      metricMap: cfg.metricMap,
      maxBytes,
      rebirthIntervalMs: cfg.rebirthIntervalMs,
      // Sparkplug 3.0 section 6.4.1: the host sets Node Control/Rebirth true in an NCMD to the edge node.
      requestRebirth: (group, edge) => publish(sparkplugTopic(group, 'NCMD', edge), encodeSparkplug({ timestamp: Date.now(), metrics: [{ name: REBIRTH_METRIC, type: 'Boolean', value: true }] }), 0),
      ...(this.edge ? { self: { group: cfg.group, edge: cfg.node }, onRebirthCommand: () => this.edge!.rebirth() } : {}),
    });
    const counts = this.host.counts;
    new Counter({
      name: 'edgelstm_sparkplug_events_total',
      help: 'Sparkplug B messages by what became of them (birth, death, stale_death, no_birth, unknown_alias, seq_gap, rebirth_request, bad_payload, ignored, over_limit)',
      labelNames: ['event'] as const,
      registers: [registry],
      collect() {
        this.reset();
        for (const e of SPARKPLUG_EVENTS) this.inc({ event: e }, counts.get(e));
      },
    });
  }

  /** Before the client's first connect: the NDEATH will, births on every connection, the next bdSeq after each. */
  attach(client: MqttClient): void {
    this.#client = client;
    if (this.#hostId !== undefined) {
      const log = this.#log;
      const state = new SparkplugHostState({ hostId: this.#hostId, log: (m, f) => log?.info(m, f) }, stateConnector(client, `${client.options.clientId ?? 'edgelstm'}-state`));
      this.#state = state;
      // STATE follows the reading connection: online once it is up (its subscription is sent first), offline when it closes.
      client.on('connect', () => state.readingUp());
      client.on('close', () => void state.offline());
    }
    const edge = this.edge;
    if (edge === undefined) return;
    client.options.will = edge.will();
    const command = this.#commandTopic;
    client.on('connect', () => {
      edge.connected();
      // With Sparkplug readings the input subscription (spBv1.0/+/+/+/#) holds our NCMD already.
      if (command !== undefined) client.subscribe(command, { qos: 0 });
    });
    client.on('close', () => {
      // After the NDEATH at stop there is no next session (the saved next bdSeq stays the one after it).
      if (this.#stopped) return;
      edge.disconnected();
      client.options.will = edge.will();
    });
  }

  /** A message on the Sparkplug subscription as samples (none for births, deaths, commands); throws when refused. */
  decode(topic: string, payload: Buffer): Sample[] {
    return this.host.ingest(topic, payload);
  }

  /** Whether `topic` is our edge node's NCMD, subscribed apart from the readings (see `command`). */
  isCommand(topic: string): boolean {
    return topic === this.#commandTopic;
  }

  /** An NCMD to our edge node: `Node Control/Rebirth` true asks for new births; other commands are ignored. */
  command(payload: Buffer): void {
    try {
      if (decodeSparkplug(payload, 65536).metrics.some((m) => m.name === REBIRTH_METRIC && m.value === true)) this.edge?.rebirth();
    } catch {
      this.host.counts.add('bad_payload');
    }
  }

  /**
   * After a model swap: when the new model's features or targets differ, readings map to its features (the
   * edge nodes asked for births) and results go out under births with its metrics. The same shape: nothing.
   */
  reshape(shape: { features: readonly string[]; targets: readonly string[] }): void {
    const same = (a: readonly string[], b: readonly string[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);
    if (same(shape.features, this.#shape.features) && same(shape.targets, this.#shape.targets)) return;
    this.#shape = shape;
    const unused = this.host.setFeatures(shape.features, this.#metricMap);
    if (unused.length > 0) this.#log?.warn('--sparkplug-metrics names features the new model lacks: those entries are not used', { features: unused, model: shape.features });
    this.edge?.reshape(shape.features, shape.targets);
    this.#log?.info('Sparkplug metrics follow the new model: rebirths requested and published', { features: shape.features, targets: shape.targets });
  }

  /** Publishes a result as DDATA (only with results as Sparkplug). */
  result(r: Result, done: () => void): void {
    this.edge!.result(r, done);
  }

  forget(device: string): void {
    this.edge?.forget(device);
  }

  /** The primary host's STATE session, if there is one. */
  get hostState(): SparkplugHostState | undefined {
    return this.#state;
  }

  /** A graceful stop: STATE offline and NDEATH (the wills are sent only when a connection breaks). */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#state?.offline();
    const c = this.#client;
    if (this.edge === undefined || c === undefined || !c.connected) return;
    const d = this.edge.death();
    await boundedPublish(c, d.topic, d.payload, false);
  }
}
