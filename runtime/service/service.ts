import { existsSync, readFileSync, renameSync, unwatchFile, watchFile, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { IPublishPacket } from 'mqtt';
import type { Logger } from 'pino';
import { Engine } from '../engine/engine';
import type { Result, Sample } from '../engine/sample';
import { EdgeLstmError } from '../errors';
import { loadModel, type Model } from '../model/load-model';
import { redactConfig, redactUrl, type ServiceConfig } from './config';
import { BrokerConnection } from './connection';
import { startEmbeddedBroker, type EmbeddedBroker } from './embedded-broker';
import { ErrorReporter, type ErrorReport } from './error-reporter';
import { IngestQueue } from './ingest-queue';
import { ServiceMetrics, startMetricsServer } from './metrics';
import { decodePayload, orderValues } from './payload';
import { fetchModelBytes, parseReloadRequest, sameArchitecture, type ReloadRequest } from './reload';

/** Where a reading came from: what its PUBACK and error report need. */
interface Origin {
  topic: string;
  params: Record<string, string>;
  messageId: number | undefined;
  generation: number;
  /** Readings of this message still in flight (a SenML pack holds several). */
  left: number;
}

/**
 * The MQTT service: readings in, one result per reading out, anomalies on
 * their own topic, bad input reported, state snapshotted, model hot-swapped.
 */
export class MqttService {
  readonly cfg: ServiceConfig;
  readonly log: Logger;
  readonly metrics = new ServiceMetrics();
  readonly queue: IngestQueue;
  engine: Engine;
  #conn!: BrokerConnection;
  #broker: EmbeddedBroker | undefined;
  #http: Server | undefined;
  metricsPort = 0;
  brokerUrl = '';
  #errors: ErrorReporter;
  // Last timestamp submitted per device (dedupe of redeliveries) and last one stepped (saved with the snapshot).
  readonly #submittedTs = new Map<string, number>();
  readonly #steppedTs = new Map<string, number>();
  #gate: Promise<void> | undefined;
  #reloading: Promise<unknown> = Promise.resolve();
  #snapshotTimer: NodeJS.Timeout | undefined;
  #watched: string | undefined;
  #stopping = false;
  duplicates = 0;
  /** A command line that publishes one reading to this service, and one that shows the results. */
  publishHint = '';
  /** Whether the embedded broker runs (false: none asked for, or another broker already held the port). */
  get embeddedBrokerRunning(): boolean {
    return this.#broker?.ours ?? false;
  }

  private constructor(cfg: ServiceConfig, model: Model, log: Logger) {
    this.cfg = cfg;
    this.log = log;
    this.queue = new IngestQueue(cfg.queueSize);
    this.engine = this.#newEngine(model);
    this.#errors = new ErrorReporter(log, cfg.errorLogIntervalMs, (r) => this.#publishError(r));
  }

  /** Loads the model, restores state, starts the broker (if embedded), connects and subscribes. */
  static async start(cfg: ServiceConfig, modelPath: string, log: Logger): Promise<MqttService> {
    const model = await loadModel(modelPath, { backend: cfg.backend });
    const s = new MqttService(cfg, model, log);
    try {
      await s.#start(modelPath);
    } catch (e) {
      await s.stop().catch(() => undefined);
      throw e;
    }
    return s;
  }

  async #start(modelPath: string): Promise<void> {
    const { cfg, log } = this;
    log.info({ config: redactConfig(cfg), model: this.engine.model.id }, 'starting');
    await this.#restore();
    if (cfg.broker === undefined) {
      this.#broker = await startEmbeddedBroker(cfg.embeddedPort);
      this.brokerUrl = this.#broker.url;
      if (this.#broker.ours) log.info({ url: this.brokerUrl }, 'embedded broker (Aedes) listening');
      else log.info({ url: this.brokerUrl }, 'a broker already listens there (often Mosquitto): using it instead of the embedded one');
      if (this.#broker.ours && cfg.protocolVersion === 5) {
        // Aedes speaks MQTT 3.1.1 only.
        cfg.protocolVersion = 4;
        log.info('embedded broker: MQTT 3.1.1');
      }
    } else this.brokerUrl = cfg.broker;
    const u = new URL(this.brokerUrl);
    const topic = cfg.input.fill({ device: 'pump-7', feature: this.engine.model.metadata.features[0]! });
    const payload = cfg.input.placeholders.includes('feature') ? '21.4' : JSON.stringify({ [this.engine.model.metadata.features[0]!]: 21.4 });
    this.publishHint = `mosquitto_pub -h ${u.hostname} -p ${u.port || 1883} -q 1 -t '${topic}' -m '${payload}'   (results: mosquitto_sub -h ${u.hostname} -p ${u.port || 1883} -t '${cfg.output.fill({ device: '+' }).replace(/\/_(?=\/|$)/g, '/+')}' -v)`;
    log.info({ hint: this.publishHint }, 'publish a reading');
    this.#conn = new BrokerConnection(cfg, this.brokerUrl, log, (p, admitted) => this.#onMessage(p, admitted));
    const subscribed = new Promise<void>((resolve, reject) => {
      this.#conn.onConnect = () => {
        this.metrics.connected.set(1);
        this.#conn.client.subscribe({ [cfg.input.filter]: { qos: cfg.qos }, [cfg.controlTopic]: { qos: 1 } }, (err) => (err ? reject(err) : resolve()));
      };
      // Refused at start (credentials, certificate, ACL): fail now with the broker's reason rather than retry forever.
      // A broker that is merely down is retried with backoff, so the service may start before it.
      this.#conn.onRefused = (e) => reject(new EdgeLstmError('E_CONFIG', `broker ${redactUrl(this.brokerUrl)} refused the connection: ${e.message}`, { field: 'broker' }));
    });
    this.#conn.onDisconnect = () => this.metrics.connected.set(0);
    this.#conn.connect();
    await subscribed;
    this.#conn.onConnect = () => this.metrics.connected.set(1); // later sessions: mqtt.js resubscribes
    this.#conn.onRefused = (e) => log.error({ err: e.message }, 'broker refused the connection; retrying with backoff');
    if (cfg.snapshotIntervalMs > 0 && cfg.stateFile) {
      this.#snapshotTimer = setInterval(() => void this.snapshot().catch((e: unknown) => log.error({ err: (e as Error).message }, 'snapshot failed')), cfg.snapshotIntervalMs);
      this.#snapshotTimer.unref();
    }
    if (cfg.watchModel) {
      this.#watched = modelPath;
      // Polling survives the atomic rename a deployment tool does; fs.watch would follow the old inode.
      watchFile(modelPath, { interval: 1000 }, (cur, prev) => {
        if (cur.mtimeMs !== prev.mtimeMs && cur.size > 0) void this.reload({ path: modelPath });
      });
    }
    log.info({ broker: this.brokerUrl, input: cfg.input.filter }, 'subscribed');
  }

  /** Serves /metrics and /health on `port` (0: a free port). */
  async serveMetrics(host: string, port: number): Promise<number> {
    const { server, port: bound } = await startMetricsServer(this.metrics, () => this.health(), host, port);
    this.#http = server;
    this.metricsPort = bound;
    return bound;
  }

  health(): { ok: boolean; connected: boolean; model: string; devices: number; queue: number } {
    const connected = this.#conn?.client.connected ?? false;
    return { ok: connected && !this.#stopping, connected, model: this.engine.model.id, devices: this.engine.devices, queue: this.queue.size };
  }

  #onMessage(packet: IPublishPacket, admitted: () => void): void {
    const topic = packet.topic;
    if (topic === this.cfg.controlTopic) {
      admitted();
      let req: ReloadRequest;
      try {
        req = parseReloadRequest(packet.payload as Buffer);
      } catch (e) {
        this.#errors.report(e as EdgeLstmError, topic, undefined);
        return;
      }
      void this.reload(req);
      return;
    }
    this.metrics.messagesIn.inc();
    const origin: Origin = { topic, params: {}, messageId: packet.messageId, generation: this.#conn.generation, left: 0 };
    const params = this.cfg.input.match(topic);
    if (params === undefined) return this.#reject(new EdgeLstmError('E_TOPIC', `topic does not match ${this.cfg.input.template}`, { field: 'topic', found: topic }), origin, undefined, admitted);
    origin.params = params;
    const features = this.engine.model.metadata.features;
    let samples: Sample[];
    try {
      const feature = params['feature'];
      if (feature !== undefined && !features.includes(feature)) throw new EdgeLstmError('E_TOPIC', `unknown feature "${feature}" in topic`, { field: 'feature', expected: features.join(', '), found: feature });
      const readings = decodePayload(packet.payload as Buffer, { features, deviceField: this.cfg.deviceField, maxBytes: this.cfg.maxPayloadBytes, ...(feature !== undefined ? { feature } : {}) });
      samples = readings.map((r) => {
        const device = params['device'] ?? r.device;
        if (device === undefined) throw new EdgeLstmError('E_PAYLOAD', `no device id: neither the topic nor the field "${this.cfg.deviceField}" names one`, { field: this.cfg.deviceField });
        return { device, values: orderValues(r, features), ...(r.ts !== undefined ? { ts: r.ts } : {}) };
      });
    } catch (e) {
      return this.#reject(e as EdgeLstmError, origin, params['device'], admitted);
    }
    origin.left = samples.length;
    this.#admitAll(samples, 0, origin, admitted);
  }

  /** Admits the readings one by one, waiting for room (backpressure) or dropping by policy. */
  #admitAll(samples: Sample[], i: number, origin: Origin, admitted: () => void): void {
    for (; i < samples.length; i++) {
      if (this.#gate) {
        const at = i;
        void this.#gate.then(() => this.#admitAll(samples, at, origin, admitted));
        return;
      }
      const s = samples[i]!;
      if (!this.queue.admit()) {
        if (this.cfg.dropPolicy === 'drop') {
          this.queue.recordDrop(s.device);
          this.metrics.dropped.inc();
          this.#finishOne(origin);
          continue;
        }
        const at = i;
        this.queue.whenSpace(() => this.#admitAll(samples, at, origin, admitted));
        return;
      }
      this.#submit(s, origin);
    }
    admitted();
  }

  #submit(s: Sample, origin: Origin): void {
    if (this.cfg.dedupe && s.ts !== undefined) {
      const last = this.#submittedTs.get(s.device);
      if (last !== undefined && s.ts <= last) {
        // A redelivery of a reading already stepped (its result went out before): stepping it again would advance the state twice.
        this.duplicates++;
        this.metrics.duplicates.inc();
        this.queue.release();
        this.#finishOne(origin);
        return;
      }
    }
    const err = this.engine.submit(s, (e, r) => this.#onResult(s, origin, e, r));
    if (err) {
      this.queue.release();
      this.#reject(err, origin, s.device, undefined);
      return;
    }
    if (s.ts !== undefined) this.#submittedTs.set(s.device, s.ts);
    this.metrics.queueDepth.set(this.queue.size);
    this.metrics.queueHighWater.set(this.queue.highWater);
  }

  #onResult(s: Sample, origin: Origin, err: Error | null, r: Result | undefined): void {
    if (err || !r) {
      this.log.error({ err: err?.message, device: s.device }, 'inference failed');
      this.queue.release();
      this.#finishOne(origin);
      return;
    }
    if (s.ts !== undefined) this.#steppedTs.set(s.device, s.ts);
    const names = { ...origin.params, device: r.device };
    const payload = JSON.stringify(r);
    let out = r.anomaly ? 2 : 1;
    // The queue place is freed once the result is handed to the client, not at its PUBACK: while the
    // queue is full the client reads nothing from its socket, PUBACKs included, and would wait forever.
    // The reading's own PUBACK still waits for the result's (see BrokerConnection).
    this.queue.release();
    const sent = (): void => {
      if (--out > 0) return;
      this.metrics.resultsOut.inc();
      this.#finishOne(origin);
    };
    this.#conn.client.publish(this.cfg.output.fill(names), payload, { qos: this.cfg.qos }, sent);
    if (r.anomaly) {
      this.metrics.anomalies.inc();
      this.#conn.client.publish(this.cfg.anomaly.fill(names), payload, { qos: this.cfg.qos }, sent);
    }
  }

  #finishOne(origin: Origin): void {
    if (--origin.left <= 0) this.#conn.finish(origin.messageId, origin.generation);
  }

  #reject(err: EdgeLstmError, origin: Origin, device: string | undefined, admitted: (() => void) | undefined): void {
    this.metrics.invalid.inc({ code: err.code ?? 'E_PAYLOAD' });
    this.#errors.report(err, origin.topic, device);
    if (admitted) {
      origin.left = 0;
      this.#conn.finish(origin.messageId, origin.generation);
      admitted();
    } else this.#finishOne(origin);
  }

  #publishError(r: ErrorReport): void {
    this.#conn?.client.publish(this.cfg.errorTopic, JSON.stringify(r), { qos: 0 });
  }

  /**
   * Swaps the model between batches. The new model is loaded and checked
   * before anything changes; on failure the old one keeps running. States
   * carry over when the architecture is the same and are reset otherwise.
   * Requests are serialized.
   */
  reload(req: ReloadRequest): Promise<boolean> {
    const run = this.#reloading.then(() => this.#reload(req));
    this.#reloading = run.catch(() => undefined);
    return run;
  }

  async #reload(req: ReloadRequest): Promise<boolean> {
    const status = `${this.cfg.controlTopic}/status`;
    let model: Model;
    try {
      const { bytes, name } = await fetchModelBytes(req);
      model = await loadModel(bytes, { backend: this.cfg.backend, name, sidecar: false });
    } catch (e) {
      this.metrics.reloads.inc({ outcome: 'failed' });
      this.log.error({ err: (e as Error).message, source: req.path ?? req.url }, 'model reload failed; keeping the current model');
      this.#conn?.client.publish(status, JSON.stringify({ ok: false, error: (e as Error).message, model: this.engine.model.id }), { qos: 1 });
      return false;
    }
    if (model.fingerprint === this.engine.model.fingerprint) {
      await model.release();
      return true;
    }
    let release!: () => void;
    this.#gate = new Promise<void>((r) => (release = r));
    const old = this.engine;
    try {
      await old.flush();
      const keep = sameArchitecture(old.model, model);
      this.engine = this.#newEngine(model, keep ? old.store : undefined);
      if (!keep) {
        this.#submittedTs.clear();
        this.#steppedTs.clear();
      }
      await old.close();
      await old.model.release();
      this.metrics.reloads.inc({ outcome: keep ? 'kept-state' : 'reset-state' });
      this.log.info({ model: model.id, fingerprint: model.fingerprint, statesKept: keep }, 'model reloaded');
      this.#conn?.client.publish(status, JSON.stringify({ ok: true, model: model.id, fingerprint: model.fingerprint, statesKept: keep }), { qos: 1 });
    } finally {
      this.#gate = undefined;
      release();
    }
    return true;
  }

  #newEngine(model: Model, store?: Engine['store']): Engine {
    const e = new Engine(model, this.cfg.engine, store);
    e.onBatch = (b) => {
      this.metrics.batchSize.observe(b.size);
      this.metrics.inferenceSeconds.observe(b.ms / 1000);
      this.metrics.activeDevices.set(e.devices);
    };
    return e;
  }

  /** Writes the state snapshot and, beside it, each device's last stepped timestamp. */
  async snapshot(): Promise<void> {
    const file = this.cfg.stateFile;
    if (!file) return;
    await this.engine.saveState(file);
    // Synchronously after saveState (no batch can run in between), so both describe the same moment.
    const tmp = `${file}.ts.tmp`;
    writeFileSync(tmp, JSON.stringify({ fingerprint: this.engine.model.fingerprint, lastTs: Object.fromEntries(this.#steppedTs) }));
    renameSync(tmp, `${file}.ts.json`);
  }

  async #restore(): Promise<void> {
    const file = this.cfg.stateFile;
    if (!file || !existsSync(file)) return;
    try {
      const n = await this.engine.loadState(file);
      this.log.info({ file, bytes: n }, 'device state restored');
    } catch (e) {
      // A snapshot of another model (E_SNAPSHOT) or a damaged file: start fresh rather than refuse to run.
      this.log.warn({ err: (e as Error).message }, 'state snapshot not restored; starting fresh');
      return;
    }
    try {
      const side = JSON.parse(readFileSync(`${file}.ts.json`, 'utf8')) as { fingerprint: string; lastTs: Record<string, number> };
      if (side.fingerprint === this.engine.model.fingerprint) {
        for (const [d, t] of Object.entries(side.lastTs)) {
          this.#steppedTs.set(d, t);
          this.#submittedTs.set(d, t);
        }
      }
    } catch {
      // No timestamps saved: no dedupe of the first redeliveries.
    }
  }

  /** Stops reading, steps and publishes what is queued, snapshots, disconnects. */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    if (this.#snapshotTimer) clearInterval(this.#snapshotTimer);
    if (this.#watched) unwatchFile(this.#watched);
    let release!: () => void;
    this.#gate = new Promise<void>((r) => (release = r)); // nothing new is admitted: unacked readings stay with the broker
    await this.#reloading;
    await this.engine.flush();
    // Give the last results' PUBACKs a moment; what is not acked is redelivered after a restart.
    for (let i = 0; i < 100 && this.queue.size > 0 && this.#conn?.client.connected; i++) await new Promise((r) => setTimeout(r, 20));
    await this.snapshot().catch((e: unknown) => this.log.error({ err: (e as Error).message }, 'final snapshot failed'));
    await this.#conn?.close().catch(() => undefined);
    await this.engine.close();
    await this.engine.model.release();
    await this.#broker?.close();
    if (this.#http) await new Promise<void>((r) => this.#http!.close(() => r()));
    void release;
    this.log.info({ counters: this.engine.counters, dropped: this.queue.dropped, duplicates: this.duplicates }, 'stopped');
  }
}
