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

/** Longest device id, topic or reason a report or a log line carries (longer ones are cut, marked with "..."). */
export const REPORT_TEXT_MAX = 256;
/** Devices (or topics) whose last log line is remembered; beyond, the oldest is forgotten. */
const KEYS_MAX = 10_000;
/** Log bytes per interval over all devices; beyond, lines are suppressed (counted) until the next interval. */
const LOG_BYTES_PER_INTERVAL = 1 << 20;

/**
 * Bad input: every one is counted and handed to `publish` (the service drops a report, counted, while its
 * broker connection is down or more than 4 MiB wait to be written); the log gets at most one
 * line per device per interval (with how many were suppressed), so a broken
 * sensor cannot flood the journal of a gateway. Bounded in every dimension an
 * attacker controls: each text is cut to REPORT_TEXT_MAX, at most KEYS_MAX keys
 * are remembered, and at most LOG_BYTES_PER_INTERVAL bytes are logged per
 * interval whatever the number of distinct ids.
 */
export class ErrorReporter {
  readonly #log: Logger;
  readonly #intervalMs: number;
  readonly #publish: (report: ErrorReport) => void;
  readonly #lastLogged = new Map<string, { at: number; suppressed: number }>();
  #windowStart = 0;
  #windowBytes = 0;
  /** Lines held back by the byte budget in the current interval. */
  #overBudget = 0;
  /** Lines logged and bytes they took since start (for tests and metrics). */
  linesLogged = 0;
  bytesLogged = 0;

  constructor(log: Logger, intervalMs: number, publish: (report: ErrorReport) => void) {
    this.#log = log;
    this.#intervalMs = intervalMs;
    this.#publish = publish;
  }

  /** Keys remembered (bounded by KEYS_MAX). */
  get keys(): number {
    return this.#lastLogged.size;
  }

  report(err: EdgeLstmError, topic: string, device: string | undefined, now = Date.now()): void {
    const d = device === undefined ? null : cut(device);
    const tp = cut(topic);
    const reason = cut(err.message);
    const report: ErrorReport = { code: err.code, reason, topic: tp, device: d, field: err.details.field === undefined ? null : cut(err.details.field), ts: now };
    this.#publish(report);
    const key = d ?? `topic:${tp}`;
    const last = this.#lastLogged.get(key);
    if (last && now - last.at < this.#intervalMs) {
      last.suppressed++;
      return;
    }
    if (now - this.#windowStart >= Math.max(this.#intervalMs, 1000)) {
      if (this.#overBudget > 0) this.#log.warn({ suppressed: this.#overBudget, bytes: LOG_BYTES_PER_INTERVAL }, 'rejected readings: log budget of the last interval exceeded; lines suppressed (every one was still counted and published)');
      this.#windowStart = now;
      this.#windowBytes = 0;
      this.#overBudget = 0;
    }
    const bytes = 120 + reason.length + tp.length + (d?.length ?? 0);
    if (this.#windowBytes + bytes > LOG_BYTES_PER_INTERVAL) {
      this.#overBudget++;
      return;
    }
    this.#windowBytes += bytes;
    if (last) this.#lastLogged.delete(key);
    else if (this.#lastLogged.size >= KEYS_MAX) this.#lastLogged.delete(this.#lastLogged.keys().next().value!);
    this.#log.warn({ code: err.code, topic: tp, device: d, suppressed: last?.suppressed ?? 0 }, `rejected reading: ${reason}`);
    this.linesLogged++;
    this.bytesLogged += bytes;
    this.#lastLogged.set(key, { at: now, suppressed: 0 });
  }
}

function cut(s: string): string {
  return s.length <= REPORT_TEXT_MAX ? s : `${s.slice(0, REPORT_TEXT_MAX - 3)}...`;
}
