import { EdgeLstmError, encodeSparkplug, parseSparkplugMetricMap, REBIRTH_METRIC, SPARKPLUG_NAMESPACE, SparkplugHost, sparkplugTopic, type Sample } from '../../runtime';
import type { NodeMessage, NodeRedApi, RuntimeNode } from './node-red';

/** The Sparkplug B settings of a reading node. */
export interface SparkplugNodeDef {
  /** feature=metric pairs for metrics not named as the model's features (as --sparkplug-metrics). */
  sparkplugMetrics?: string;
  /** An mqtt-broker config node: rebirth requests (NCMD) are published through it. */
  sparkplugBroker?: string;
}

/** The part of Node-RED's mqtt-broker config node used here. */
interface MqttBrokerNode {
  connected?: boolean;
  publish(msg: { topic: string; payload: Buffer; qos: 0 | 1; retain: boolean }, done?: (err?: unknown) => void): void;
}

/** Largest Sparkplug payload read (as the nodes' JSON readings). */
const MAX_BYTES = 1024 * 1024;
/** Least time between two rebirth requests to one edge node (the service's default). */
const REBIRTH_INTERVAL_MS = 5000;
const PREFIX = `${SPARKPLUG_NAMESPACE}/`;

/**
 * Sparkplug B messages (an mqtt in node on `spBv1.0/#`) as readings: the
 * service's host side (runtime SparkplugHost) per node, so births, alias
 * tables, report by exception, metric timestamps, sequence gaps and deaths
 * are handled as `edgelstm run --payload sparkplug` handles them. A device
 * is `group/edge node/device` (the edge node's own metrics: `group/edge node`).
 * A missing birth or an unknown alias drops the message (an error for Catch
 * nodes) and asks the edge node for a rebirth through the configured broker.
 */
export class SparkplugInput {
  readonly #RED: NodeRedApi;
  readonly #node: RuntimeNode;
  readonly #brokerId: string | undefined;
  readonly #metricMap: ReadonlyMap<string, string>;
  #host: SparkplugHost | undefined;
  /** The features the host was made for (a model with other features gets a new one). */
  #features = '';
  #warnedNoBroker = false;

  constructor(RED: NodeRedApi, node: RuntimeNode, def: SparkplugNodeDef) {
    this.#RED = RED;
    this.#node = node;
    this.#brokerId = typeof def.sparkplugBroker === 'string' && def.sparkplugBroker.length > 0 ? def.sparkplugBroker : undefined;
    let map = new Map<string, string>();
    try {
      map = parseSparkplugMetricMap(def.sparkplugMetrics, 'sparkplugMetrics');
    } catch (e) {
      node.warn(`${(e as Error).message}; metrics are matched by name only`);
    }
    this.#metricMap = map;
  }

  /** Whether a message is on a Sparkplug B topic (read here rather than as JSON). */
  static is(msg: NodeMessage): boolean {
    return typeof msg.topic === 'string' && msg.topic.startsWith(PREFIX);
  }

  /** The readings a Sparkplug message carries (none for births, deaths, commands, STATE); throws for a refused one. */
  readings(msg: NodeMessage, features: readonly string[]): Sample[] {
    return this.#hostFor(features).ingest(msg.topic!, bytes(msg.payload));
  }

  /** What the host side saw so far, by event (births, unknown aliases, rebirth requests, ...). */
  counts(): Record<string, number> | undefined {
    return this.#host?.counts.snapshot();
  }

  #hostFor(features: readonly string[]): SparkplugHost {
    const key = features.join('\u0000');
    if (this.#host !== undefined && key === this.#features) return this.#host;
    // A model with other features: births are read again (data from known nodes asks for a rebirth).
    this.#features = key;
    this.#host = new SparkplugHost({
      features,
      metricMap: this.#metricMap,
      maxBytes: MAX_BYTES,
      rebirthIntervalMs: REBIRTH_INTERVAL_MS,
      requestRebirth: (group, edge) => this.#rebirth(group, edge),
    });
    return this.#host;
  }

  /** Sparkplug 3.0 section 6.4.1: NCMD `Node Control/Rebirth` true, through the broker the node is set to. */
  #rebirth(group: string, edge: string): void {
    const broker = this.#brokerId !== undefined ? (this.#RED.nodes.getNode(this.#brokerId) as MqttBrokerNode | null) : null;
    if (broker === null || typeof broker.publish !== 'function') {
      if (!this.#warnedNoBroker) this.#node.warn(`Sparkplug: edge node ${group}/${edge} must send its births again, and no Sparkplug broker is set on this node to ask it (NCMD ${REBIRTH_METRIC})`);
      this.#warnedNoBroker = true;
      return;
    }
    if (broker.connected === false) return this.#node.warn(`Sparkplug: rebirth request to ${group}/${edge} not sent: the broker is not connected`);
    const payload = encodeSparkplug({ timestamp: Date.now(), metrics: [{ name: REBIRTH_METRIC, type: 'Boolean', value: true }] });
    broker.publish({ topic: sparkplugTopic(group, 'NCMD', edge), payload, qos: 0, retain: false }, (err) => {
      if (err) this.#node.warn(`Sparkplug: rebirth request to ${group}/${edge} failed: ${String(err)}`);
    });
  }
}

/**
 * The payload's bytes: a Buffer (mqtt in set to output "a Buffer"), or a string: mqtt in's
 * auto-detect turns a payload that happens to be valid UTF-8 into one, and encoding it again gives
 * back the same bytes.
 */
function bytes(payload: unknown): Uint8Array {
  if (payload instanceof Uint8Array) return payload;
  if (typeof payload === 'string') return Buffer.from(payload, 'utf8');
  throw new EdgeLstmError('E_PAYLOAD', 'a Sparkplug B message needs its payload as bytes (mqtt in: output "a Buffer")', {
    field: 'msg.payload',
    expected: 'a Buffer',
    found: payload === null ? 'null' : typeof payload,
  });
}
