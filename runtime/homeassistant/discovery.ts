import { createHash } from 'node:crypto';
import type { MqttClient } from 'mqtt';
import type { Result } from '../engine/sample';

/** The Home Assistant options of `edgelstm run`, after validation. */
export interface HaDiscoveryConfig {
  /** Discovery prefix (Home Assistant's default: homeassistant). */
  prefix: string;
  /** The service's name (--name): the node id of its config topics and part of every unique_id. */
  name: string;
  /** Retained `online`/`offline` of the service (offline also as its MQTT will). */
  availabilityTopic: string;
  /** edgelstm's version, as the device's sw_version. */
  version: string;
}

/** One discovery message: its retained config topic and payload. */
export interface HaConfigMessage {
  topic: string;
  config: Record<string, unknown>;
}

/** Home Assistant's node_id and object_id alphabet (MQTT discovery: `[a-zA-Z0-9_-]`). */
export function haId(s: string): string {
  const clean = s.replace(/[^a-zA-Z0-9_-]/g, '_');
  // Two ids that clean to the same text ("a/b", "a_b") must stay two entities: a short hash of the original tells them apart.
  return clean === s ? s : `${clean}_${createHash('sha1').update(s).digest('hex').slice(0, 6)}`;
}

/**
 * The discovery configs of one device: a binary_sensor for the anomaly
 * flag, sensors for likelihood, score and the forecast of each target, all
 * reading the device's result topic (JSON) with a value_template, sharing
 * one `device` entry and the service's availability topic.
 */
export function haConfigs(cfg: HaDiscoveryConfig, device: string, resultTopic: string, targets: readonly string[], model: string): HaConfigMessage[] {
  const node = haId(cfg.name);
  const dev = haId(device);
  const common = {
    state_topic: resultTopic,
    availability: [{ topic: cfg.availabilityTopic, payload_available: 'online', payload_not_available: 'offline' }],
    device: { identifiers: [`edgelstm_${node}_${dev}`], name: device, model, manufacturer: 'edgelstm', sw_version: cfg.version },
    origin: { name: 'edgelstm', sw_version: cfg.version },
  };
  const entity = (component: 'binary_sensor' | 'sensor', key: string, config: Record<string, unknown>): HaConfigMessage => {
    const objectId = haId(`${device}_${key}`);
    return { topic: `${cfg.prefix}/${component}/${node}/${objectId}/config`, config: { unique_id: `edgelstm_${node}_${objectId}`, ...config, ...common } };
  };
  return [
    // `problem`: on means a problem (an anomalous episode is open).
    entity('binary_sensor', 'anomaly', { name: 'Anomaly', device_class: 'problem', value_template: "{{ 'ON' if value_json.anomaly else 'OFF' }}", payload_on: 'ON', payload_off: 'OFF' }),
    // null in the learning period renders as None: Home Assistant shows unknown.
    entity('sensor', 'likelihood', { name: 'Anomaly likelihood', value_template: '{{ value_json.likelihood }}', state_class: 'measurement', suggested_display_precision: 4 }),
    entity('sensor', 'score', { name: 'Anomaly score', value_template: '{{ value_json.score }}', state_class: 'measurement', suggested_display_precision: 3 }),
    ...targets.map((t, i) => entity('sensor', `forecast_${t}`, { name: `Forecast ${t}`, value_template: `{{ value_json.forecast[${i}] }}`, state_class: 'measurement' })),
  ];
}

/**
 * Home Assistant MQTT discovery for the service: on a device's first
 * result its configs go out retained; when the engine forgets the device
 * (evicted, expired) an empty retained payload on each config topic removes
 * its entities. The availability topic is `online` while connected and
 * `offline` (the will, or at stop) otherwise.
 */
export class HaDiscovery {
  readonly #cfg: HaDiscoveryConfig;
  readonly #targets: () => readonly string[];
  readonly #model: () => string;
  /** Device -> its config topics, for clearing. */
  readonly #announced = new Map<string, string[]>();
  #client: MqttClient | undefined;
  announcements = 0;
  clearances = 0;

  constructor(cfg: HaDiscoveryConfig, targets: () => readonly string[], model: () => string) {
    this.#cfg = cfg;
    this.#targets = targets;
    this.#model = model;
  }

  /** Before the client's first connect: the `offline` will, `online` on every connection. */
  attach(client: MqttClient): void {
    this.#client = client;
    client.options.will = { topic: this.#cfg.availabilityTopic, payload: Buffer.from('offline'), qos: 1, retain: true };
    client.on('connect', () => void client.publish(this.#cfg.availabilityTopic, 'online', { qos: 1, retain: true }));
  }

  /** A result published on `topic`: announces its device the first time. */
  result(r: Result, topic: string): void {
    if (this.#announced.has(r.device) || this.#client === undefined) return;
    const msgs = haConfigs(this.#cfg, r.device, topic, this.#targets(), this.#model());
    this.#announced.set(r.device, msgs.map((m) => m.topic));
    this.announcements++;
    for (const m of msgs) this.#client.publish(m.topic, JSON.stringify(m.config), { qos: 1, retain: true });
  }

  /** The engine forgot `device`: its entities are removed (empty retained config). */
  forget(device: string): void {
    const topics = this.#announced.get(device);
    if (topics === undefined) return;
    this.#announced.delete(device);
    this.clearances++;
    for (const t of topics) this.#client?.publish(t, '', { qos: 1, retain: true });
  }

  /** A graceful stop: `offline` (the will goes only when the connection breaks). */
  async stop(): Promise<void> {
    const c = this.#client;
    if (c === undefined || !c.connected) return;
    let timer: NodeJS.Timeout | undefined;
    // Bounded: a broker that stopped answering must not hold the shutdown.
    await Promise.race([c.publishAsync(this.#cfg.availabilityTopic, 'offline', { qos: 1, retain: true }).catch(() => undefined), new Promise<void>((r) => (timer = setTimeout(r, 1000)))]);
    clearTimeout(timer);
  }
}
