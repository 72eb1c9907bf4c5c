import type { IPublishPacket } from 'mqtt';
import type { Logger } from 'pino';
import type { Result, Sample } from '../engine/sample';
import { isEpisodeEvent } from '../engine/scoring/result-fields';
import { validateSample } from '../engine/sample';
import { EdgeLstmError, SampleError } from '../errors';
import type { EngineHost } from '../host/engine-host';
import { readSamples } from '../reading/samples';
import type { ServiceConfig } from './config';
import type { BrokerConnection } from './connection';
import type { ErrorReporter } from './error-reporter';
import type { IngestQueue } from './ingest-queue';
import type { ServiceMetrics } from './metrics';
import type { Recovery, ReplayedResult } from './recovery';
import { batchResultJson, resultJson } from '../engine/result-json';
import type { BatchResults } from '../engine/batch-results';
import type { ReadSamplesOptions } from '../reading/samples';

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

/** How a reading's place in the queue ended. */
type Outcome = 'result' | 'duplicate' | 'refused' | 'failed';

export interface IngestDeps {
  cfg: ServiceConfig;
  host: EngineHost;
  queue: IngestQueue;
  metrics: ServiceMetrics;
  recovery: Recovery;
  errors: ErrorReporter;
  log: Logger;
  /** Sees every result computed now, before it is published (the live view). */
  onResult?: (r: Result) => void;
  /** With onResult: the same result read from the engine's columns, so onResult alone needs no Result objects (FleetView.recordRow). */
  onRow?: (b: BatchResults, i: number) => void;
  /** Decodes a message instead of readSamples (--payload sparkplug); [] for a message that carries no reading. */
  decode?: (topic: string, payload: Buffer) => Sample[];
  /** Publishes a result instead of its JSON on the output topic (--result-format sparkplug). */
  publishResult?: (r: Result, done: () => void) => void;
  /** A result's JSON went out on `topic` (Home Assistant discovery). */
  onPublished?: (r: Result, topic: string) => void;
}

/**
 * The path of a reading through the service: message -> samples ->
 * admission -> submit -> result -> publish -> acknowledge. The queue place a
 * reading takes at admission is given back in one place (`#settle`), and the
 * PUBACK of a message goes out from one place (`#acknowledge`): once every
 * reading of it is settled and, with the journal, on disk. (BrokerConnection
 * holds the PUBACK mqtt.js wants to send until then.)
 */
export class IngestPath {
  readonly #d: IngestDeps;
  #conn!: BrokerConnection;
  duplicates = 0;
  /** A hook needs each result as an object; without one, results are written from the engine's columns. */
  readonly #wantsResult: boolean;
  /** readSamples' options, filled per message (the call is synchronous): no objects or closures per message. */
  readonly #read: ReadSamplesOptions;
  readonly #device: { id: string | undefined; missing: () => EdgeLstmError };

  constructor(deps: IngestDeps) {
    this.#d = deps;
    this.#wantsResult = (deps.onResult !== undefined && deps.onRow === undefined) || deps.publishResult !== undefined || deps.onPublished !== undefined;
    const { deviceField } = deps.cfg;
    this.#device = { id: undefined, missing: () => new EdgeLstmError('E_PAYLOAD', `no device id: neither the topic nor the field "${deviceField}" names one`, { field: deviceField }) };
    this.#read = { features: [], deviceField, maxBytes: deps.cfg.maxPayloadBytes, device: this.#device };
  }

  /** The connection results go out on (made after the path, since its handler is the path). */
  set connection(c: BrokerConnection) {
    this.#conn = c;
  }

  /** A message that is not a reading (fleet, control): acknowledged at once. */
  acknowledgeNow(packet: IPublishPacket, admitted: () => void): void {
    this.#conn.finish(packet.messageId, this.#conn.generation);
    admitted();
  }

  /** A message on an input topic; `params` are the topic's placeholders (undefined: the topic does not match). */
  reading(packet: IPublishPacket, params: Record<string, string> | undefined, admitted: () => void): void {
    const { cfg, metrics } = this.#d;
    metrics.messagesIn.inc();
    const origin: Origin = { topic: packet.topic, params: {}, messageId: packet.messageId, generation: this.#conn.generation, left: 0, seq: 0 };
    if (params === undefined) return this.#reject(new EdgeLstmError('E_TOPIC', `topic does not match ${cfg.input.template}`, { field: 'topic', found: packet.topic }), origin, undefined, admitted);
    origin.params = params;
    let samples: Sample[];
    try {
      if (this.#d.decode) samples = this.#d.decode(packet.topic, packet.payload as Buffer);
      else {
        const o = this.#read;
        o.features = this.#d.host.engine.shape.features; // the model in use (a reload may change it)
        o.feature = params['feature'];
        this.#device.id = params['device'];
        samples = readSamples(packet.payload as Buffer, o);
      }
    } catch (e) {
      return this.#reject(e as EdgeLstmError, origin, params['device'], admitted);
    }
    // Births, deaths, commands: nothing to step.
    if (samples.length === 0) return this.acknowledgeNow(packet, admitted);
    origin.left = samples.length;
    this.#admitAll(samples, 0, origin, admitted);
  }

  /** Admits the readings one by one, waiting for room (backpressure) or dropping by policy. */
  #admitAll(samples: Sample[], i: number, origin: Origin, admitted: () => void): void {
    const { host, queue, cfg, metrics } = this.#d;
    for (; i < samples.length; i++) {
      const gate = host.gate;
      if (gate) {
        const at = i;
        void gate.then(() => this.#admitAll(samples, at, origin, admitted));
        return;
      }
      const s = samples[i]!;
      if (!queue.admit()) {
        if (cfg.dropPolicy === 'drop') {
          queue.recordDrop(s.device);
          metrics.dropped.inc();
          this.#acknowledge(origin);
          continue;
        }
        const at = i;
        queue.whenSpace(() => this.#admitAll(samples, at, origin, admitted));
        return;
      }
      this.#submit(s, origin);
    }
    admitted();
  }

  /** Hands an admitted reading to the engine (a redelivery of one already stepped is answered without it). */
  #submit(s: Sample, origin: Origin): void {
    const { cfg, recovery, metrics, queue } = this.#d;
    if (s.ts !== undefined) {
      // Before deduplication: a timestamp far ahead would make every later reading of the device look like a redelivery.
      const late = outsideWindow(s, cfg.maxClockSkewMs, cfg.maxReadingAgeMs);
      if (late !== undefined) return this.#settle(s, origin, 'refused', undefined, late);
      if (cfg.dedupe && recovery.isRedelivery(s.device, s.ts, s.values)) {
        // Validation before deduplication: an invalid reading is reported as invalid, whatever its timestamp.
        try {
          validateSample(s, this.#d.host.engine.shape.features);
        } catch (e) {
          return this.#settle(s, origin, 'refused', undefined, e as Error);
        }
        return this.#settle(s, origin, 'duplicate', undefined, undefined);
      }
    }
    const journal = recovery.journal;
    // The journal needs the timestamp the engine would give (arrival time) to step the reading again identically.
    if (journal !== undefined && s.ts === undefined) s.ts = Date.now();
    const engine = this.#d.host.engine;
    const err = this.#wantsResult
      ? engine.submit(s, (e, r) => this.#settle(s, origin, e || !r ? 'failed' : 'result', r, e ?? undefined))
      : engine.submitColumnar(s, (e, b, i) => (e || !b ? this.#settle(s, origin, 'failed', undefined, e ?? undefined) : this.#settleRow(s, origin, b, i)));
    if (err) return this.#settle(s, origin, 'refused', undefined, err);
    if (s.ts !== undefined) recovery.submitted(s.device, s.ts, s.values);
    if (journal !== undefined) origin.seq = journal.append(s.device, s.ts!, s.values);
    metrics.queueDepth.set(queue.size);
    metrics.queueHighWater.set(queue.highWater);
  }

  /** A result read from the engine's columns (no hook wants a Result object): what #settle does for 'result'. */
  #settleRow(s: Sample, origin: Origin, b: BatchResults, i: number): void {
    const { queue, metrics, recovery } = this.#d;
    queue.release();
    metrics.queueDepth.set(queue.size);
    if (s.ts !== undefined) recovery.steppedTs.set(s.device, s.ts);
    this.#d.onRow?.(b, i);
    // An episode's start or end goes to two topics: one string for both. Otherwise the JSON is written as bytes into the packet batch.
    if (b.episodeEvent(i)) return this.#publish(origin, s.device, batchResultJson(b, i), true, b.anomaly(i));
    this.#conn.publishRow(this.#d.cfg.output.fillDevice(origin.params, s.device), b, i, this.#d.cfg.qos, this.#sent(origin, 1));
  }

  /**
   * The one place a reading's queue place is given back (#settleRow too, for a result read from the columns). It is freed once the result is handed to the
   * client, not at its PUBACK: while the queue is full the client reads nothing from its socket, PUBACKs
   * included, and would wait forever. The reading's own PUBACK still waits for the result's.
   */
  #settle(s: Sample, origin: Origin, outcome: Outcome, r: Result | undefined, err: Error | undefined): void {
    const { queue, metrics, recovery, log } = this.#d;
    queue.release();
    metrics.queueDepth.set(queue.size);
    switch (outcome) {
      case 'result':
        if (s.ts !== undefined) recovery.steppedTs.set(s.device, s.ts);
        this.#d.onResult?.(r!);
        return this.#publish(origin, r!.device, resultJson(r!), isEpisodeEvent(r!), r!.anomaly, r);
      case 'duplicate': {
        this.duplicates++;
        metrics.duplicates.inc();
        // Stepped by the journal replay after a crash: its result may never have gone out.
        const again: ReplayedResult | undefined = recovery.takeReplayed(s.device, s.ts!);
        // Flagged: a consumer may already have its first copy (documented in the README, "Security").
        if (again !== undefined) return this.#publish(origin, s.device, flagRedelivered(again.payload), again.anomaly, false);
        return this.#acknowledge(origin);
      }
      case 'refused':
        return this.#reject(err as EdgeLstmError, origin, s.device, undefined);
      case 'failed':
        log.error({ err: err?.message, device: s.device }, 'inference failed');
        return this.#acknowledge(origin);
    }
  }

  /**
   * Publishes a result, and on the anomaly topic too when it starts or ends an episode (one alarm per
   * episode); the message is acknowledged once they are with the broker. `countAnomaly`: the result is an
   * anomaly computed now (a result the journal replay computed does not count again).
   */
  #publish(origin: Origin, device: string, payload: string, episodeEvent: boolean, countAnomaly: boolean, r?: Result): void {
    const { cfg, metrics } = this.#d;
    const sent = this.#sent(origin, episodeEvent ? 2 : 1);
    // Batched: a batch's results reach the socket in one write (BrokerConnection.publish).
    const { publishResult, onPublished } = this.#d;
    if (r !== undefined && publishResult !== undefined) publishResult(r, sent);
    else {
      const topic = cfg.output.fillDevice(origin.params, device);
      this.#conn.publish(topic, payload, cfg.qos, sent);
      if (r !== undefined) onPublished?.(r, topic);
    }
    if (episodeEvent) {
      if (countAnomaly) metrics.anomalies.inc();
      this.#conn.publish(cfg.anomaly.fillDevice(origin.params, device), payload, cfg.qos, sent);
    }
  }

  /** Called once each of a result's `out` messages is with the broker: the result is out, its reading done. */
  #sent(origin: Origin, out: number): () => void {
    const { metrics } = this.#d;
    return () => {
      if (--out > 0) return;
      metrics.resultsOut.inc();
      this.#acknowledge(origin);
    };
  }

  /** One reading of the message is done; the last one lets the PUBACK go, once its readings are in the journal on disk. */
  #acknowledge(origin: Origin): void {
    if (--origin.left > 0) return;
    const j = this.#d.recovery.journal;
    if (j !== undefined && origin.seq > j.durable) j.afterDurable(origin.seq, () => this.#conn.finish(origin.messageId, origin.generation));
    else this.#conn.finish(origin.messageId, origin.generation);
  }

  /** Bad input: counted, reported, acknowledged (the broker must not deliver it again); no state changed. */
  #reject(err: EdgeLstmError, origin: Origin, device: string | undefined, admitted: (() => void) | undefined): void {
    this.#d.metrics.invalid.inc({ code: err.code ?? 'E_PAYLOAD' });
    this.#d.errors.report(err, origin.topic, device);
    if (admitted) {
      // Refused before any of its readings was admitted: the whole message is done.
      origin.left = 1;
      this.#acknowledge(origin);
      admitted();
    } else this.#acknowledge(origin);
  }
}

/** A result payload (a JSON object) with `"redelivered":true` added: the answer to a reading delivered again. */
export function flagRedelivered(payload: string): string {
  return payload.endsWith('}') && !payload.includes('"redelivered":') ? `${payload.slice(0, -1)},"redelivered":true}` : payload;
}

/**
 * E_BAD_TIMESTAMP when a reading's timestamp is more than `skewMs` ahead of the gateway clock (a sensor in
 * microseconds, 1e300) or, with `maxAgeMs` > 0, older than that; undefined when it is inside the window.
 */
export function outsideWindow(s: Sample, skewMs: number, maxAgeMs: number, now = Date.now()): SampleError | undefined {
  const ts = s.ts!;
  if (skewMs > 0 && ts > now + skewMs) {
    return new SampleError('E_BAD_TIMESTAMP', 'timestamp too far ahead of the gateway clock', { field: 'ts', expected: `epoch ms at most ${skewMs} ms after now (${now}; --max-clock-skew-s)`, found: String(ts), device: s.device });
  }
  if (maxAgeMs > 0 && ts < now - maxAgeMs) {
    return new SampleError('E_BAD_TIMESTAMP', 'timestamp older than the accepted window', { field: 'ts', expected: `epoch ms at most ${maxAgeMs} ms before now (${now}; --max-reading-age-s)`, found: String(ts), device: s.device });
  }
  return undefined;
}
