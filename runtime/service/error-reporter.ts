import type { Logger } from 'pino';
import type { EdgeLstmError } from '../errors';

/** What `edgelstm/errors` carries for a rejected reading. */
export interface ErrorReport {
  code: string;
  reason: string;
  topic: string;
  device: string | null;
  field: string | null;
  ts: number;
}

/**
 * Bad input: every one is counted and published; the log gets at most one
 * line per device per interval (with how many were suppressed), so a broken
 * sensor cannot flood the journal of a gateway.
 */
export class ErrorReporter {
  readonly #log: Logger;
  readonly #intervalMs: number;
  readonly #publish: (report: ErrorReport) => void;
  readonly #lastLogged = new Map<string, { at: number; suppressed: number }>();

  constructor(log: Logger, intervalMs: number, publish: (report: ErrorReport) => void) {
    this.#log = log;
    this.#intervalMs = intervalMs;
    this.#publish = publish;
  }

  report(err: EdgeLstmError, topic: string, device: string | undefined, now = Date.now()): void {
    const report: ErrorReport = { code: err.code, reason: err.message, topic, device: device ?? null, field: err.details.field ?? null, ts: now };
    this.#publish(report);
    const key = device ?? `topic:${topic}`;
    const last = this.#lastLogged.get(key);
    if (last && now - last.at < this.#intervalMs) {
      last.suppressed++;
      return;
    }
    // Bounded: an attacker inventing device ids must not grow this map without limit.
    if (this.#lastLogged.size > 10_000) this.#lastLogged.clear();
    this.#log.warn({ code: err.code, topic, device, suppressed: last?.suppressed ?? 0 }, `rejected reading: ${err.message}`);
    this.#lastLogged.set(key, { at: now, suppressed: 0 });
  }
}
