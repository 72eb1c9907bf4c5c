import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type CounterConfiguration, type GaugeConfiguration, type LabelValues } from 'prom-client';

/**
 * A Counter whose unlabelled `inc()` only adds to a number: prom-client's
 * own inc (label hashing, checks) costs more than the rest of a message's
 * bookkeeping at tens of thousands per second. The sum reaches prom-client
 * when the counter is read (a scrape or `get()`), so what is read is exact.
 */
class BatchedCounter<T extends string = string> extends Counter<T> {
  #pending = 0;
  readonly #base: (labels?: LabelValues<T> | number, value?: number) => void;

  constructor(config: CounterConfiguration<T>) {
    super(config);
    // prom-client assigns inc in its constructor (there is no prototype method to call through super).
    const base = this.inc.bind(this) as (labels?: LabelValues<T> | number, value?: number) => void;
    this.#base = base;
    const inc = (labels?: LabelValues<T> | number, value?: number): void => {
      if (labels === undefined) this.#pending++;
      else if (typeof labels === 'number' && Number.isFinite(labels) && labels >= 0) this.#pending += labels;
      else base(labels, value);
    };
    this.inc = inc as Counter<T>['inc'];
  }

  override async get(): ReturnType<Counter<T>['get']> {
    if (this.#pending > 0) {
      const n = this.#pending;
      this.#pending = 0;
      this.#base(n);
    }
    return super.get();
  }
}

/** A Gauge whose unlabelled `set(v)` keeps the latest value in a field until the gauge is read. */
class LatestGauge<T extends string = string> extends Gauge<T> {
  #latest: number | undefined;

  constructor(config: GaugeConfiguration<T>) {
    super(config);
  }

  override set(labels: LabelValues<T> | number, value?: number): void {
    if (typeof labels === 'number' && value === undefined) this.#latest = labels;
    else super.set(labels as LabelValues<T>, value as number);
  }

  override async get(): ReturnType<Gauge<T>['get']> {
    if (this.#latest !== undefined) {
      super.set(this.#latest);
      this.#latest = undefined;
    }
    return super.get();
  }
}

/** The service's Prometheus metrics, in a registry of its own (so tests can run several services). */
export class ServiceMetrics {
  readonly registry = new Registry();
  readonly messagesIn = new BatchedCounter({ name: 'edgelstm_messages_in_total', help: 'MQTT messages received on the input topics', registers: [this.registry] });
  readonly resultsOut = new BatchedCounter({ name: 'edgelstm_results_out_total', help: 'results published', registers: [this.registry] });
  readonly anomalies = new BatchedCounter({ name: 'edgelstm_anomalies_total', help: 'anomalies published', registers: [this.registry] });
  readonly invalid = new Counter({ name: 'edgelstm_messages_invalid_total', help: 'readings rejected, by error code', labelNames: ['code'] as const, registers: [this.registry] });
  readonly dropped = new BatchedCounter({ name: 'edgelstm_messages_dropped_total', help: 'readings dropped by the drop policy', registers: [this.registry] });
  readonly duplicates = new BatchedCounter({ name: 'edgelstm_duplicates_total', help: 'redelivered readings skipped (timestamp not after the device\'s last)', registers: [this.registry] });
  readonly errorReportsDropped = new BatchedCounter({ name: 'edgelstm_error_reports_dropped_total', help: 'error reports (QoS 0, --error-topic) not published: the connection was down or its socket held more than 4 MiB not yet written', registers: [this.registry] });
  readonly reloads = new Counter({ name: 'edgelstm_model_reloads_total', help: 'model reloads, by outcome', labelNames: ['outcome'] as const, registers: [this.registry] });
  readonly activeDevices = new LatestGauge({ name: 'edgelstm_active_devices', help: 'devices holding state', registers: [this.registry] });
  readonly queueDepth = new LatestGauge({ name: 'edgelstm_queue_depth', help: 'readings in flight', registers: [this.registry] });
  readonly queueHighWater = new LatestGauge({ name: 'edgelstm_queue_high_water', help: 'most readings ever in flight at once (bounded by --queue-size)', registers: [this.registry] });
  readonly connected = new Gauge({ name: 'edgelstm_broker_connected', help: '1 while connected to the broker', registers: [this.registry] });
  readonly batchSize = new Histogram({ name: 'edgelstm_batch_size', help: 'devices per inference call', buckets: [1, 4, 16, 64, 256, 1024, 4096, 16384], registers: [this.registry] });
  readonly inferenceSeconds = new Histogram({ name: 'edgelstm_inference_seconds', help: 'wall time of one batch', buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5], registers: [this.registry] });

  constructor() {
    // Includes nodejs_eventloop_lag_* (event-loop delay) and resident memory.
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 20 });
    // The default metrics have heap and external memory; Buffers (socket chunks, payloads, write batches) are part of external.
    new Gauge({
      name: 'nodejs_array_buffers_bytes',
      help: 'memory of ArrayBuffers and Buffers (process.memoryUsage().arrayBuffers), part of the external memory',
      registers: [this.registry],
      collect() {
        this.set(process.memoryUsage().arrayBuffers);
      },
    });
  }

  /** The connection's backlog, read at scrape time: PUBACKs held, results not yet acknowledged, bytes not yet written to the socket. */
  watchConnection(conn: () => { held: number; resultsUnacked: number; writeBuffered: number } | undefined): void {
    const registers = [this.registry];
    for (const [name, help, key] of [
      ['edgelstm_acks_held', 'QoS 1 readings received whose PUBACK is held (until their result is acknowledged, in delivery order)', 'held'],
      ['edgelstm_results_unacked', 'QoS 1 results published and not yet acknowledged by the broker', 'resultsUnacked'],
      ['edgelstm_socket_write_buffered_bytes', 'bytes handed to the broker connection\'s socket and not yet written to it', 'writeBuffered'],
    ] as const) {
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(conn()?.[key] ?? 0);
        },
      });
    }
  }

  /** Journal blocks written and fdatasync'd, and their bytes, read at scrape time from the journal `journal()` returns. */
  watchJournal(journal: () => { syncs: number; bytes: number } | undefined): void {
    const registers = [this.registry];
    for (const [name, help, key] of [
      ['edgelstm_journal_syncs_total', 'journal blocks written and fdatasync\'d (each before the PUBACKs of its readings)', 'syncs'],
      ['edgelstm_journal_bytes_total', 'bytes written to the journal', 'bytes'],
    ] as const) {
      new Counter({
        name,
        help,
        registers,
        collect() {
          const j = journal();
          this.reset();
          if (j) this.inc(j[key]);
        },
      });
    }
  }
}

/** Health as /health reports it: 200 when connected with a model, 503 otherwise. */
export interface HealthReport {
  ok: boolean;
  [key: string]: unknown;
}

/**
 * Serves /metrics and /health, and whatever `routes` takes (the live view: it returns true for a request it
 * served). Listens on `port` (0: any free port; the bound port is returned).
 */
export async function startMetricsServer(metrics: ServiceMetrics, health: () => HealthReport, host: string, port: number, routes?: (req: IncomingMessage, res: ServerResponse) => boolean): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    if (routes?.(req, res)) return;
    if (req.url === '/metrics') {
      metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
        (e: unknown) => res.writeHead(500).end(String(e)),
      );
    } else if (req.url === '/health') {
      const h = health();
      res.writeHead(h.ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(h));
    } else res.writeHead(404).end('not found: try /metrics or /health\n');
  });
  server.listen(port, host);
  await once(server, 'listening');
  const addr = server.address();
  return { server, port: typeof addr === 'object' && addr ? addr.port : port };
}
