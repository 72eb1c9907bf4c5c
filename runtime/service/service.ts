import type { Server } from 'node:http';
import type { Logger } from 'pino';
import type { BackendReport } from '../backend/choose-backend';
import type { Engine } from '../engine/engine';
import type { BatchResults } from '../engine/batch-results';
import type { Result } from '../engine/sample';
import { EdgeLstmError } from '../errors';
import { EngineHost, type HostLog, type SwapOutcome } from '../host/engine-host';
import { redactConfig, redactUrl, type ServiceConfig } from './config';
import { BrokerConnection } from './connection';
import { isLoopback, startEmbeddedBroker, type EmbeddedBroker } from './embedded-broker';
import { ErrorReporter } from './error-reporter';
import { IngestPath } from './ingest';
import { IngestQueue } from './ingest-queue';
import { ServiceMetrics, startMetricsServer } from './metrics';
import { ModelUpdates } from './model-updates';
import { Recovery } from './recovery';
import { parseModelRequest, policyWarnings, publicReason, type ModelRequest } from '../acquire';
import { TopicTable } from './topics';
import { SparkplugLink } from '../sparkplug/link';
import { HaDiscovery } from '../homeassistant/discovery';
import { FleetView, ViewServer } from '../view';
import { within } from '../util/deadline';

/**
 * The MQTT service: readings in, one result per reading out, anomalies on
 * their own topic, bad input reported, state snapshotted, model hot-swapped.
 * This file wires the parts and stops them: the engine's life is the
 * EngineHost's (runtime/host), a reading's path is IngestPath (ingest.ts),
 * topics are routed by TopicTable (topics.ts), the snapshot and journal
 * are Recovery's (recovery.ts), new models come through ModelUpdates
 * (model-updates.ts).
 */
export class MqttService {
  readonly cfg: ServiceConfig;
  readonly log: Logger;
  readonly metrics: ServiceMetrics;
  readonly queue: IngestQueue;
  readonly #host: EngineHost;
  readonly #recovery: Recovery;
  readonly #ingest: IngestPath;
  readonly #topics: TopicTable;
  readonly #errors: ErrorReporter;
  readonly #updates: ModelUpdates;
  #conn: BrokerConnection | undefined;
  #broker: EmbeddedBroker | undefined;
  #http: Server | undefined;
  /** The live view (runtime/view), made with the HTTP server unless --view=false. */
  #view: { fleet: FleetView; server: ViewServer } | undefined;
  /** Sparkplug B readings and results (--payload / --result-format sparkplug). */
  readonly #sparkplug: SparkplugLink | undefined;
  /** Home Assistant discovery (--ha-discovery). */
  readonly #ha: HaDiscovery | undefined;
  #stopping = false;
  metricsPort = 0;
  brokerUrl = '';
  /** A command line that publishes one reading to this service, and one that shows the results. */
  publishHint = '';

  private constructor(cfg: ServiceConfig, host: EngineHost, metrics: ServiceMetrics, log: Logger) {
    this.cfg = cfg;
    this.log = log;
    this.metrics = metrics;
    this.#host = host;
    this.queue = new IngestQueue(cfg.queueSize);
    this.#errors = new ErrorReporter(log, cfg.errorLogIntervalMs, (r) => {
      this.#view?.fleet.recordError(r.device, r.code);
      // QoS 0, batched; dropped (counted) rather than queued without bound while the broker reads slower than this.
      if (this.#conn?.publishDroppable(cfg.errorTopic, JSON.stringify(r)) !== true) metrics.errorReportsDropped.inc();
    });
    this.#recovery = new Recovery(host, { stateFile: cfg.stateFile, journalFile: cfg.journalFile, replayChunk: cfg.queueSize, log, unackedResults: async () => (this.#conn ? this.#conn.unacked(resultPrefix(cfg)) : []) });
    const sp = cfg.sparkplug ? new SparkplugLink({ ...cfg.sparkplug, stateFile: cfg.stateFile }, host.engine.shape, cfg.maxPayloadBytes, metrics.registry, cfg.payload === 'sparkplug', { info: (m, f) => log.info(f ?? {}, m), warn: (m, f) => log.warn(f ?? {}, m) }) : undefined;
    this.#sparkplug = sp;
    const ha = cfg.haDiscovery ? new HaDiscovery(cfg.haDiscovery, () => this.engine.shape.targets, () => this.engine.model.id) : undefined;
    this.#ha = ha;
    this.#ingest = new IngestPath({
      cfg, host, queue: this.queue, metrics, recovery: this.#recovery, errors: this.#errors, log,
      // Only with the live view: without a hook, results are written from the engine's columns (no Result object).
      ...(cfg.view.enabled ? { onResult: (r: Result) => this.#view?.fleet.record(r), onRow: (b: BatchResults, i: number) => this.#view?.fleet.recordRow(b, i) } : {}),
      ...(sp && cfg.payload === 'sparkplug' ? { decode: (topic: string, payload: Buffer) => sp.decode(topic, payload) } : {}),
      ...(sp?.edge ? { publishResult: (r: Result, done: () => void) => sp.result(r, done) } : {}),
      ...(ha ? { onPublished: (r: Result, topic: string) => ha.result(r, topic) } : {}),
    });
    this.#updates = new ModelUpdates({ cfg, host, recovery: this.#recovery, metrics, log, publish: (topic, payload) => void this.#conn?.client.publish(topic, payload, { qos: 1 }), onSwapped: () => sp?.reshape(this.engine.shape) });
    // With --control off the topic is not subscribed; a name no broker delivers keeps it out of the table as well.
    this.#topics = new TopicTable(cfg.controlEnabled ? cfg.controlTopic : '\u0000control-off', cfg.input, {
      // The fleet model-update agent has its own listener on its topic.
      fleet: (packet, admitted) => this.#ingest.acknowledgeNow(packet, admitted),
      control: (packet, admitted) => {
        this.#ingest.acknowledgeNow(packet, admitted);
        let req: ModelRequest;
        try {
          req = parseModelRequest(packet.payload as Buffer, 'control');
        } catch (e) {
          this.log.warn({ err: (e as Error).message }, 'model control message refused');
          this.#conn?.client.publish(`${cfg.controlTopic}/status`, JSON.stringify({ ok: false, code: 'E_PAYLOAD', error: publicReason(e), model: this.engine.model.id, sha256: this.engine.model.fingerprint }), { qos: 1 });
          return;
        }
        void this.reload(req);
      },
      reading: (packet, params, admitted) => {
        // Our Sparkplug edge node's NCMD (results as Sparkplug, readings as JSON): a command, not a reading.
        if (sp?.isCommand(packet.topic)) {
          sp.command(packet.payload as Buffer);
          return this.#ingest.acknowledgeNow(packet, admitted);
        }
        this.#ingest.reading(packet, params, admitted);
      },
    });
    metrics.watchJournal(() => this.#recovery.journal);
    metrics.watchConnection(() => this.#conn);
  }

  /** Loads the model, restores state, starts the broker (if embedded), connects and subscribes. */
  static async start(cfg: ServiceConfig, modelPath: string, log: Logger): Promise<MqttService> {
    const metrics = new ServiceMetrics();
    let recovery: Recovery | undefined;
    let service: MqttService | undefined;
    const host = await EngineHost.load(modelPath, {
      backend: cfg.backend,
      engineOptions: () => cfg.engine,
      log: hostLog(log),
      wire: (e) => {
        // What the service keeps per device goes with the device's state, or ids that keep changing would grow it without bound.
        e.onForget = (device) => {
          recovery?.forget(device);
          service?.liveView?.forget(device);
          if (service) {
            service.#sparkplug?.forget(device);
            service.#ha?.forget(device);
          }
        };
        e.onBatch = (b) => {
          metrics.batchSize.observe(b.size);
          metrics.inferenceSeconds.observe(b.ms / 1000);
          metrics.activeDevices.set(e.devices);
        };
      },
    });
    const s = new MqttService(cfg, host, metrics, log);
    recovery = s.#recovery;
    service = s;
    try {
      await s.#start(modelPath);
    } catch (e) {
      await s.stop().catch(() => undefined);
      throw e;
    }
    return s;
  }

  /** The engine in use (another one after a model swap). */
  get engine(): Engine {
    return this.#host.engine;
  }

  /** Redelivered readings answered without stepping them again. */
  get duplicates(): number {
    return this.#ingest.duplicates;
  }

  /** Whether the embedded broker runs (false: none asked for, or another broker already held the port). */
  get embeddedBrokerRunning(): boolean {
    return this.#broker?.ours ?? false;
  }

  async #start(modelPath: string): Promise<void> {
    const { cfg, log } = this;
    const features = this.engine.shape.features;
    log.info({ config: redactConfig(cfg), model: this.engine.model.id }, 'starting');
    const b = this.engine.model.backendChoice;
    log.info({ backend: b.kind, requested: b.requested, reason: b.reason }, `inference on ${b.kind}`);
    for (const w of policyWarnings(cfg.acquire)) {
      log.warn(w);
      process.stderr.write(`edgelstm: WARNING: ${w}\n`);
    }
    await this.#recovery.restore();
    let protocolVersion = cfg.protocolVersion;
    if (cfg.broker === undefined) {
      this.#broker = await startEmbeddedBroker(cfg.embeddedPort, cfg.embeddedHost, cfg.embeddedUsers);
      if (cfg.embeddedUsers === undefined && !isLoopback(cfg.embeddedHost)) log.warn({ host: cfg.embeddedHost }, 'embedded broker takes anonymous clients beyond loopback (--embedded-allow-anonymous): anyone who reaches it can publish readings');
      this.brokerUrl = this.#broker.url;
      if (this.#broker.ours) log.info({ url: this.brokerUrl }, 'embedded broker (Aedes) listening');
      else log.info({ url: this.brokerUrl }, 'a broker already listens there (often Mosquitto): using it instead of the embedded one');
      if (this.#broker.ours && protocolVersion === 5) {
        // Aedes speaks MQTT 3.1.1 only.
        protocolVersion = 4;
        log.info('embedded broker: MQTT 3.1.1');
      }
    } else this.brokerUrl = cfg.broker;
    const u = new URL(this.brokerUrl);
    const topic = cfg.input.fill({ device: 'pump-7', feature: features[0]! });
    const payload = cfg.input.placeholders.includes('feature') ? '21.4' : JSON.stringify({ [features[0]!]: 21.4 });
    const results = cfg.sparkplug?.results ? `spBv1.0/${cfg.sparkplug.group}/DDATA/${cfg.sparkplug.node}/+` : cfg.output.fill({ device: '+' }).replace(/\/_(?=\/|$)/g, '/+');
    // Sparkplug B payloads are protobuf: no one-line mosquitto_pub makes one.
    const send = cfg.payload === 'sparkplug' ? `Sparkplug B edge nodes publishing spBv1.0/... to ${u.hostname}:${u.port || 1883} are read` : `mosquitto_pub -h ${u.hostname} -p ${u.port || 1883} -q 1 -t '${topic}' -m '${payload}'`;
    this.publishHint = `${send}   (results: mosquitto_sub -h ${u.hostname} -p ${u.port || 1883} -t '${results}' -v)`;
    log.info({ hint: this.publishHint }, 'publish a reading');
    // On an authenticating embedded broker the service uses the credentials it made for itself.
    const conn = new BrokerConnection({ ...cfg, protocolVersion, ...this.#broker?.credentials }, this.brokerUrl, log, (p, admitted) => this.#topics.dispatch(p, admitted));
    this.#conn = conn;
    this.#ingest.connection = conn;
    // Their wills (NDEATH, offline) and births go with every connection.
    this.#sparkplug?.attach(conn.client);
    this.#ha?.attach(conn.client);
    const subscribed = new Promise<void>((resolve, reject) => {
      conn.onConnect = () => {
        this.metrics.connected.set(1);
        // The local control topic is read only when asked for (--control).
        conn.client.subscribe({ [cfg.input.filter]: { qos: cfg.qos }, ...(cfg.controlEnabled ? { [cfg.controlTopic]: { qos: 1 as const } } : {}) }, (err) => (err ? reject(err) : resolve()));
      };
      // Refused at start (credentials, certificate, ACL): fail now with the broker's reason rather than retry forever.
      // A broker that is merely down is retried with backoff, so the service may start before it.
      conn.onRefused = (e) => reject(new EdgeLstmError('E_CONFIG', `broker ${redactUrl(this.brokerUrl)} refused the connection: ${e.message}`, { field: 'broker' }));
    });
    conn.onDisconnect = () => this.metrics.connected.set(0);
    conn.connect();
    await subscribed;
    conn.onConnect = () => this.metrics.connected.set(1); // later sessions: mqtt.js resubscribes
    conn.onRefused = (e) => log.error({ err: e.message }, 'broker refused the connection; retrying with backoff');
    if (cfg.stateFile) this.#host.saveEvery(cfg.snapshotIntervalMs, () => this.snapshot());
    if (cfg.watchModel) this.#updates.watch(modelPath);
    this.#updates.startAgent(modelPath, conn.client);
    if (this.#updates.fleetTopic) this.#topics.fleetTopic = this.#updates.fleetTopic;
    log.info({ broker: this.brokerUrl, input: cfg.input.filter, fleetTopic: this.#updates.fleetTopic }, 'subscribed');
  }

  /** The live view's device tracks, when it is served. */
  get liveView(): FleetView | undefined {
    return this.#view?.fleet;
  }

  /** Serves /metrics and /health on `port` (0: a free port), and the live view at /view unless --view=false. */
  async serveMetrics(host: string, port: number): Promise<number> {
    if (this.cfg.view.enabled && !this.#view) {
      const fleet = new FleetView({
        shape: () => this.engine.shape,
        info: () => ({ model: this.engine.model.id, backend: this.engine.model.backendChoice.kind, devices: this.engine.devices }),
      }, this.cfg.view);
      this.#view = { fleet, server: new ViewServer(fleet) };
    }
    const view = this.#view;
    const { server, port: bound } = await startMetricsServer(this.metrics, () => this.health(), host, port, view ? (req, res) => view.server.handle(req, res) : undefined);
    this.#http = server;
    this.metricsPort = bound;
    return bound;
  }

  /** `modelSha256`: the SHA-256 of the model file running (`model` is the name its own metadata gives). */
  health(): { ok: boolean; connected: boolean; model: string; modelSha256: string; backend: BackendReport; devices: number; queue: number } {
    const connected = this.#conn?.client.connected ?? false;
    const backend = this.engine.model.backendChoice;
    return { ok: connected && !this.#stopping, connected, model: this.engine.model.id, modelSha256: this.engine.model.fingerprint, backend, devices: this.engine.devices, queue: this.queue.size };
  }

  /** Swaps the model between batches (see ModelUpdates.reload); resolves false when it did not load. */
  reload(req: ModelRequest): Promise<boolean> {
    return this.#updates.reload(req);
  }

  /** Loads `bytes` and swaps them in (see ModelUpdates.swapModel). Undefined: the same model already runs. */
  swapModel(bytes: Uint8Array, name: string): Promise<SwapOutcome | undefined> {
    return this.#updates.swapModel(bytes, name);
  }

  /**
   * Writes the state snapshot and, beside it, each device's last stepped
   * timestamp. With the journal: between batches with nothing admitted, so
   * the snapshot holds every journaled reading and the journal starts over.
   */
  snapshot(): Promise<void> {
    if (!this.#recovery.journal) return this.#recovery.snapshot();
    return this.#host.serial(async () => {
      const open = this.#host.closeGate();
      try {
        await this.engine.flush();
        await this.#recovery.snapshot();
      } finally {
        open();
      }
    });
  }

  /**
   * Stops reading, steps and publishes what is queued, snapshots, disconnects: within --stop-timeout-s
   * whatever the broker and pending reads do (a broker that is down is not waited for; a stuck task is
   * left behind and the state snapshotted as it is).
   */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    const deadline = Date.now() + this.cfg.stopTimeoutMs;
    const left = (): number => Math.max(0, deadline - Date.now());
    this.#host.closeGate(); // nothing new is admitted: unacked readings stay with the broker
    await within(this.#updates.stop(), left() / 4);
    let snapshotted = false;
    const closed = this.#host.close(async () => {
      // Give the last results' PUBACKs a moment; what is not acked is redelivered after a restart.
      for (let i = 0; i < 100 && this.queue.size > 0 && this.#conn?.client.connected && left() > 1000; i++) await new Promise((r) => setTimeout(r, 20));
      await this.#recovery.snapshot().catch((e: unknown) => this.log.error({ err: (e as Error).message }, 'final snapshot failed'));
      snapshotted = true;
      await this.#recovery.journal?.close();
      await this.#sparkplug?.stop();
      await this.#ha?.stop();
      await this.#conn?.close(Math.min(2000, left() / 2)).catch(() => undefined);
    });
    if (!(await within(closed, left() - 200))) {
      this.log.error({ stopTimeoutMs: this.cfg.stopTimeoutMs, snapshotted }, 'shutdown deadline reached: closing without waiting for the tasks still running');
      if (!snapshotted) await within(this.#recovery.snapshot().catch((e: unknown) => this.log.error({ err: (e as Error).message }, 'final snapshot failed')), 1000);
      await within(this.#recovery.journal?.close() ?? Promise.resolve(), 200);
      await this.#conn?.close(100).catch(() => undefined);
    }
    await within(this.#broker?.close() ?? Promise.resolve(), 500);
    this.#view?.server.close(); // its event streams would hold the HTTP server open
    if (this.#http) {
      this.#http.closeAllConnections();
      await within(new Promise<void>((r) => this.#http!.close(() => r())), 500);
    }
    this.log.info({ counters: this.engine.counters, dropped: this.queue.dropped, duplicates: this.duplicates }, 'stopped');
  }
}

/** The host's log lines through pino: the fields as the object, the text as the message. */
function hostLog(log: Logger): HostLog {
  return { info: (m, f) => log.info(f ?? {}, m), warn: (m, f) => log.warn(f ?? {}, m) };
}

/** Topics of results and anomalies start with this: the templates' text before the first placeholder. */
function resultPrefix(cfg: ServiceConfig): string {
  const a = cfg.output.template.split('{')[0]!;
  const b = cfg.anomaly.template.split('{')[0]!;
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  return a.slice(0, i);
}
