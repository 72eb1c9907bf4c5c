import { existsSync, readFileSync, renameSync, unwatchFile, watchFile, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { IPublishPacket } from 'mqtt';
import type { Logger } from 'pino';
import { Counter } from 'prom-client';
import { Engine } from '../engine/engine';
import type { Result, Sample } from '../engine/sample';
import { EdgeLstmError } from '../errors';
import { loadModel, type Model } from '../model/load-model';
import { redactConfig, redactUrl, type ServiceConfig } from './config';
import { BrokerConnection } from './connection';
import { startEmbeddedBroker, type EmbeddedBroker } from './embedded-broker';
import { ErrorReporter, type ErrorReport } from './error-reporter';
import { IngestQueue } from './ingest-queue';
import { Journal, readJournal, snapshotDigest, type JournalContents, type JournalRecord } from './journal';
import { ServiceMetrics, startMetricsServer } from './metrics';
import { decodePayload, orderValues } from './payload';
import { resultJson } from './result-json';
import { modelControlTopic, startModelUpdateAgent, type ModelUpdateAgent } from './model-update-agent';
import { fetchModelBytes, parseReloadRequest, sameArchitecture, type ReloadRequest } from './reload';

/** Where a reading came from: what its PUBACK and error report need. */
interface Origin {
  topic: string;
  params: Record<string, string>;
  messageId: number | undefined;
  generation: number;
  /** Readings of this message still in flight (a SenML pack holds several). */
  left: number;
  /** Journal sequence of its last reading: its PUBACK waits until that is on disk. */
  seq: number;
}

/** A result computed while replaying the journal, published if the broker delivers its reading again. */
interface ReplayedResult {
  payload: string;
  anomaly: boolean;
}

/** Results of the journal's last readings kept for redeliveries (bounded by MQTT 5's receive maximum). */
const REPLAY_RESULTS_KEPT = 65536;

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
  #gateHolders = 0;
  #openGate: (() => void) | undefined;
  #journal: Journal | undefined;
  #agent: ModelUpdateAgent | undefined;
  #fleetTopic = '';
  /** Topics of results and anomalies start with this (the templates' text before the first placeholder). */
  #outputPrefix = '';
  /** device -> ts -> result, for readings stepped by the journal replay (their result may never have gone out). */
  readonly #replayed = new Map<string, Map<number, ReplayedResult>>();
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
    const a = cfg.output.template.split('{')[0]!;
    const b = cfg.anomaly.template.split('{')[0]!;
    let i = 0;
    while (i < a.length && a[i] === b[i]) i++;
    this.#outputPrefix = a.slice(0, i);
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
    this.#journalMetrics();
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
        if ((cur.mtimeMs !== prev.mtimeMs || cur.ino !== prev.ino) && cur.size > 0) void this.reload({ path: modelPath });
      });
    }
    this.#startAgent(modelPath);
    log.info({ broker: this.brokerUrl, input: cfg.input.filter, fleetTopic: this.#fleetTopic }, 'subscribed');
  }

  /** Journal blocks written and fdatasync'd, and their bytes, read at scrape time. */
  #journalMetrics(): void {
    const journal = (): Journal | undefined => this.#journal;
    const registers = [this.metrics.registry];
    for (const [name, help, read] of [
      ['edgelstm_journal_syncs_total', 'journal blocks written and fdatasync\'d (each before the PUBACKs of its readings)', (j: Journal) => j.syncs],
      ['edgelstm_journal_bytes_total', 'bytes written to the journal', (j: Journal) => j.bytes],
    ] as const) {
      new Counter({
        name,
        help,
        registers,
        collect() {
          const j = journal();
          this.reset();
          if (j) this.inc(read(j));
        },
      });
    }
  }

  /** The fleet side of `edgelstm deploy`: retained requests on edgelstm/<name>/control/model, status on edgelstm/<name>/status/model. */
  #startAgent(modelPath: string): void {
    const { cfg, log } = this;
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(modelPath);
    } catch (e) {
      log.warn({ err: (e as Error).message }, 'model file unreadable: fleet model updates off');
      return;
    }
    this.#fleetTopic = modelControlTopic(cfg.name);
    this.#agent = startModelUpdateAgent({
      client: this.#conn.client,
      name: cfg.name,
      current: { bytes, model: this.engine.model.id },
      ...(cfg.modelPublicKeyPem !== undefined ? { publicKeyPem: cfg.modelPublicKeyPem } : {}),
      log: { info: (m) => log.info(m), warn: (m) => log.warn(m) },
      apply: async (next, req) => {
        const swapped = await this.swapModel(next, req.url ?? `fleet model ${req.sha256.slice(0, 12)}`);
        return { model: swapped?.model ?? this.engine.model.id };
      },
    });
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
    if (topic === this.#fleetTopic) {
      // The fleet model-update agent has its own listener on this topic.
      this.#conn.finish(packet.messageId, this.#conn.generation);
      admitted();
      return;
    }
    if (topic === this.cfg.controlTopic) {
      this.#conn.finish(packet.messageId, this.#conn.generation);
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
    const origin: Origin = { topic, params: {}, messageId: packet.messageId, generation: this.#conn.generation, left: 0, seq: 0 };
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
        // A redelivery of a reading already stepped: stepping it again would advance the state twice.
        this.duplicates++;
        this.metrics.duplicates.inc();
        this.queue.release();
        // Stepped by the journal replay after a crash: its result may never have gone out.
        const again = this.#replayed.size > 0 ? this.#replayed.get(s.device)?.get(s.ts) : undefined;
        if (again !== undefined) {
          this.#replayed.get(s.device)!.delete(s.ts);
          this.#republish(again, s.device, origin);
        } else this.#finishOne(origin);
        return;
      }
    }
    // The journal needs the timestamp the engine would give (arrival time) to step the reading again identically.
    if (this.#journal !== undefined && s.ts === undefined) s.ts = Date.now();
    const err = this.engine.submit(s, (e, r) => this.#onResult(s, origin, e, r));
    if (err) {
      this.queue.release();
      this.#reject(err, origin, s.device, undefined);
      return;
    }
    if (s.ts !== undefined) this.#submittedTs.set(s.device, s.ts);
    if (this.#journal !== undefined) origin.seq = this.#journal.append(s.device, s.ts!, s.values);
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
    const payload = resultJson(r);
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
    // Batched: a batch's results reach the socket in one write (BrokerConnection.publish).
    this.#conn.publish(this.cfg.output.fillDevice(origin.params, r.device), payload, this.cfg.qos, sent);
    if (r.anomaly) {
      this.metrics.anomalies.inc();
      this.#conn.publish(this.cfg.anomaly.fillDevice(origin.params, r.device), payload, this.cfg.qos, sent);
    }
  }

  #finishOne(origin: Origin): void {
    if (--origin.left > 0) return;
    // The PUBACK goes out once the message's readings are in the journal on disk: the broker forgets it then.
    const j = this.#journal;
    if (j !== undefined && origin.seq > j.durable) j.afterDurable(origin.seq, () => this.#conn.finish(origin.messageId, origin.generation));
    else this.#conn.finish(origin.messageId, origin.generation);
  }

  #republish(r: ReplayedResult, device: string, origin: Origin): void {
    const names = { ...origin.params, device };
    let out = r.anomaly ? 2 : 1;
    const sent = (): void => {
      if (--out > 0) return;
      this.metrics.resultsOut.inc();
      this.#finishOne(origin);
    };
    this.#conn.publish(this.cfg.output.fill(names), r.payload, this.cfg.qos, sent);
    if (r.anomaly) this.#conn.publish(this.cfg.anomaly.fill(names), r.payload, this.cfg.qos, sent);
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
   * Requests are serialized (with snapshots).
   */
  reload(req: ReloadRequest): Promise<boolean> {
    return this.#serial(() => this.#reload(req));
  }

  /** Runs `fn` after the reloads and snapshots before it, never two at once. */
  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#reloading.then(fn);
    this.#reloading = run.catch(() => undefined);
    return run;
  }

  /** Stops admitting readings until the returned function is called (every holder must call it). */
  #closeGate(): () => void {
    if (this.#gateHolders++ === 0) this.#gate = new Promise<void>((r) => (this.#openGate = r));
    let done = false;
    return () => {
      if (done) return;
      done = true;
      if (--this.#gateHolders > 0) return;
      const open = this.#openGate!;
      this.#gate = undefined;
      this.#openGate = undefined;
      open();
    };
  }

  async #reload(req: ReloadRequest): Promise<boolean> {
    const status = `${this.cfg.controlTopic}/status`;
    let swapped: Awaited<ReturnType<MqttService['swapModel']>>;
    let bytes: Uint8Array;
    try {
      const fetched = await fetchModelBytes(req, undefined, this.cfg.modelPublicKeyPem);
      bytes = fetched.bytes;
      swapped = await this.#swap(bytes, fetched.name);
    } catch (e) {
      this.metrics.reloads.inc({ outcome: 'failed' });
      this.log.error({ err: (e as Error).message, source: req.path ?? req.url }, 'model reload failed; keeping the current model');
      this.#conn?.client.publish(status, JSON.stringify({ ok: false, error: (e as Error).message, model: this.engine.model.id }), { qos: 1 });
      return false;
    }
    if (swapped === undefined) return true;
    this.#conn?.client.publish(status, JSON.stringify({ ok: true, model: swapped.model, fingerprint: swapped.fingerprint, statesKept: swapped.statesKept }), { qos: 1 });
    this.#agent?.setCurrent(bytes, swapped.model);
    return true;
  }

  /**
   * Loads `bytes` and swaps them in between batches (serialized with reloads
   * and snapshots); rejects, keeping the current model, when they do not
   * load. Undefined: the same model already runs. Checks of hash and
   * signature are the caller's.
   */
  swapModel(bytes: Uint8Array, name: string): Promise<{ model: string; fingerprint: string; statesKept: boolean } | undefined> {
    return this.#serial(() => this.#swap(bytes, name));
  }

  async #swap(bytes: Uint8Array, name: string): Promise<{ model: string; fingerprint: string; statesKept: boolean } | undefined> {
    const model = await loadModel(bytes, { backend: this.cfg.backend, name, sidecar: false });
    if (model.fingerprint === this.engine.model.fingerprint) {
      await model.release();
      return undefined;
    }
    const open = this.#closeGate();
    const old = this.engine;
    let keep: boolean;
    try {
      await old.flush();
      keep = sameArchitecture(old.model, model);
      this.engine = this.#newEngine(model, keep ? old.store : undefined);
      if (!keep) {
        this.#submittedTs.clear();
        this.#steppedTs.clear();
      }
      await old.close();
      await old.model.release();
      this.metrics.reloads.inc({ outcome: keep ? 'kept-state' : 'reset-state' });
      this.log.info({ model: model.id, fingerprint: model.fingerprint, statesKept: keep }, 'model reloaded');
      // The journal's readings were stepped by the old model: a snapshot under the new one starts a new journal.
      if (this.#journal) await this.#snapshotNow().catch((e: unknown) => this.log.error({ err: (e as Error).message }, 'snapshot after the model swap failed'));
    } finally {
      open();
    }
    return { model: model.id, fingerprint: model.fingerprint, statesKept: keep };
  }

  #newEngine(model: Model, store?: Engine['store']): Engine {
    const e = new Engine(model, this.cfg.engine, store);
    // What the service keeps per device goes with the device's state, or ids that keep changing would grow it without bound.
    e.onForget = (device) => {
      this.#submittedTs.delete(device);
      this.#steppedTs.delete(device);
    };
    e.onBatch = (b) => {
      this.metrics.batchSize.observe(b.size);
      this.metrics.inferenceSeconds.observe(b.ms / 1000);
      this.metrics.activeDevices.set(e.devices);
    };
    return e;
  }

  /**
   * Writes the state snapshot and, beside it, each device's last stepped
   * timestamp. With the journal: between batches with nothing admitted, so
   * the snapshot holds every journaled reading and the journal starts over.
   */
  snapshot(): Promise<void> {
    if (!this.#journal) return this.#snapshotNow();
    return this.#serial(async () => {
      const open = this.#closeGate();
      try {
        await this.engine.flush();
        await this.#snapshotNow();
      } finally {
        open();
      }
    });
  }

  /** The snapshot itself; with the journal, only between batches with nothing admitted. */
  async #snapshotNow(): Promise<void> {
    const file = this.cfg.stateFile;
    if (!file) return;
    const j = this.#journal;
    if (j) await j.sync();
    await this.engine.saveState(file);
    // Synchronously after saveState (no batch can run in between), so both describe the same moment.
    const tmp = `${file}.ts.tmp`;
    const lastTs = Object.fromEntries(this.#steppedTs);
    writeFileSync(tmp, JSON.stringify({ fingerprint: this.engine.model.fingerprint, lastTs }));
    renameSync(tmp, `${file}.ts.json`);
    if (j) {
      // Results the broker has not confirmed are lost with the process, and their readings, held in the snapshot, would
      // not be stepped again when delivered again: the new journal keeps them. (Waiting for them here cannot work: with
      // nothing admitted the client reads no PUBACK.)
      const unacked = await this.#unackedResults();
      // A crash before this line leaves a journal naming the previous snapshot: startup sees it is older and does not replay it.
      await j.rotate({ base: snapshotDigest(file), fingerprint: this.engine.model.fingerprint, lastTs, unacked, createdAt: Date.now() });
      this.#replayed.clear();
    }
  }

  /** Payloads of results handed to the client and not yet acknowledged by the broker. */
  async #unackedResults(): Promise<string[]> {
    const store = this.#conn?.client.outgoingStore;
    if (!store) return [];
    const out = new Set<string>();
    for await (const p of store.createStream() as AsyncIterable<{ cmd?: string; topic?: string; payload?: Buffer | string }>) {
      if (p.cmd !== 'publish' || p.topic === undefined || p.payload === undefined || !p.topic.startsWith(this.#outputPrefix)) continue;
      out.add(typeof p.payload === 'string' ? p.payload : p.payload.toString('utf8'));
    }
    return [...out];
  }

  /** What `#republish` answers a redelivered reading with, from result payloads. */
  #keepForRedelivery(payloads: readonly string[]): void {
    for (const text of payloads) {
      try {
        const r = JSON.parse(text) as { device?: unknown; ts?: unknown; anomaly?: unknown };
        if (typeof r.device !== 'string' || typeof r.ts !== 'number') continue;
        let m = this.#replayed.get(r.device);
        if (!m) this.#replayed.set(r.device, (m = new Map()));
        m.set(r.ts, { payload: text, anomaly: r.anomaly === true });
      } catch {
        // Not a result.
      }
    }
  }

  async #restore(): Promise<void> {
    const file = this.cfg.stateFile;
    if (!file) return;
    if (this.cfg.journalFile) return this.#restoreWithJournal(file, this.cfg.journalFile);
    if (!existsSync(file)) return;
    try {
      const n = await this.engine.loadState(file);
      this.log.info({ file, bytes: n }, 'device state restored');
    } catch (e) {
      // A snapshot of another model (E_SNAPSHOT) or a damaged file: start fresh rather than refuse to run.
      this.log.warn({ err: (e as Error).message }, 'state snapshot not restored; starting fresh');
      return;
    }
    this.#restoreLastTs(file);
  }

  #restoreLastTs(file: string): void {
    try {
      const side = JSON.parse(readFileSync(`${file}.ts.json`, 'utf8')) as { fingerprint: string; lastTs: Record<string, number> };
      if (side.fingerprint === this.engine.model.fingerprint) this.#setLastTs(side.lastTs);
    } catch {
      // No timestamps saved: no dedupe of the first redeliveries.
    }
  }

  #setLastTs(lastTs: Record<string, number>): void {
    for (const [d, t] of Object.entries(lastTs)) {
      this.#steppedTs.set(d, t);
      this.#submittedTs.set(d, t);
    }
  }

  /**
   * Snapshot, then the journal's readings stepped again (nothing published),
   * so the state is the one the service had when it stopped, however it
   * stopped. A journal that extends an older snapshot (a crash between the
   * snapshot and the journal's rotation) is not replayed: the snapshot holds it.
   */
  async #restoreWithJournal(file: string, jfile: string): Promise<void> {
    const { log } = this;
    const fp = this.engine.model.fingerprint;
    let j: JournalContents | undefined;
    if (existsSync(jfile)) {
      try {
        j = readJournal(jfile);
        if (j.torn) log.warn({ file: jfile, torn: j.torn, records: j.records.length }, 'journal: torn tail dropped (a crash mid-write); the complete records are used');
        if (j.header.fingerprint !== fp) {
          log.warn({ file: jfile }, 'journal written under another model; not replayed');
          j = undefined;
        }
      } catch (e) {
        log.warn({ err: (e as Error).message }, 'journal unreadable; not replayed');
        j = undefined;
      }
    }
    const digest = snapshotDigest(file);
    let restored = false;
    // A journal extending the empty state was started when no snapshot could be used: any state file is older.
    if (j?.header.base !== 'empty' && existsSync(file)) {
      try {
        const n = await this.engine.loadState(file);
        restored = true;
        log.info({ file, bytes: n }, 'device state restored');
      } catch (e) {
        log.warn({ err: (e as Error).message }, 'state snapshot not restored; starting fresh');
      }
    }
    if (j !== undefined && (j.header.base === 'empty' || (restored && j.header.base === digest))) {
      this.#setLastTs(j.header.lastTs);
      this.#keepForRedelivery(j.header.unacked ?? []);
      const started = Date.now();
      await this.#replay(j.records);
      log.info({ file: jfile, records: j.records.length, ms: Date.now() - started }, 'journal replayed: state as it was at the crash');
      this.#journal = Journal.continue(jfile, j.validBytes);
    } else {
      if (restored && j !== undefined) {
        // The snapshot already holds these readings; they still tell the last timestamps.
        this.#setLastTs(j.header.lastTs);
        for (const r of j.records) this.#setLastTs({ [r.device]: r.ts });
      } else if (restored) this.#restoreLastTs(file);
      this.#journal = Journal.create(jfile, { base: restored ? digest : 'empty', fingerprint: fp, lastTs: Object.fromEntries(this.#steppedTs), createdAt: Date.now() });
    }
    this.#journal.onError = (e) => log.error({ err: e.message, file: jfile }, 'journal write failed; acknowledgements held until it succeeds (retrying)');
  }

  /** Steps journaled readings without publishing; keeps the results of the last ones for redeliveries. */
  async #replay(records: JournalRecord[]): Promise<void> {
    const keepFrom = records.length - REPLAY_RESULTS_KEPT;
    const chunk = Math.max(1, this.cfg.queueSize);
    for (let at = 0; at < records.length; at += chunk) {
      const end = Math.min(records.length, at + chunk);
      for (let i = at; i < end; i++) {
        const r = records[i]!;
        const keep = i >= keepFrom;
        const err = this.engine.submit({ device: r.device, ts: r.ts, values: r.values }, (e, res) => {
          if (!keep || e || !res) return;
          let m = this.#replayed.get(res.device);
          if (!m) this.#replayed.set(res.device, (m = new Map()));
          m.set(res.ts, { payload: JSON.stringify(res), anomaly: res.anomaly });
        });
        if (err) this.log.warn({ err: err.message, device: r.device }, 'journal record refused by the engine');
        this.#steppedTs.set(r.device, r.ts);
        this.#submittedTs.set(r.device, r.ts);
      }
      await this.engine.flush();
    }
  }

  /** Stops reading, steps and publishes what is queued, snapshots, disconnects. */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    if (this.#snapshotTimer) clearInterval(this.#snapshotTimer);
    if (this.#watched) unwatchFile(this.#watched);
    this.#closeGate(); // nothing new is admitted: unacked readings stay with the broker
    await this.#agent?.();
    await this.#reloading;
    await this.engine.flush();
    // Give the last results' PUBACKs a moment; what is not acked is redelivered after a restart.
    for (let i = 0; i < 100 && this.queue.size > 0 && this.#conn?.client.connected; i++) await new Promise((r) => setTimeout(r, 20));
    await this.#snapshotNow().catch((e: unknown) => this.log.error({ err: (e as Error).message }, 'final snapshot failed'));
    await this.#journal?.close();
    await this.#conn?.close().catch(() => undefined);
    await this.engine.close();
    await this.engine.model.release();
    await this.#broker?.close();
    if (this.#http) await new Promise<void>((r) => this.#http!.close(() => r()));
    this.log.info({ counters: this.engine.counters, dropped: this.queue.dropped, duplicates: this.duplicates }, 'stopped');
  }
}
