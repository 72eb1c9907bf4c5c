import type { NatsConnection } from 'nats';
import { resultSubjectParts } from './subjects';

/** The part of nats.js's protocol handler used to hand it ready-made protocol bytes (not in its public types). */
interface RawSender {
  sendCommand(cmd: Uint8Array): void;
}

/** A batch buffer grows to this at least, and a new one is cut once a batch passes the largest size seen. */
const MIN_BYTES = 64 * 1024;

/**
 * Results of one turn of the event loop, encoded as NATS `PUB` frames back to
 * back into one buffer and handed to the client in one piece at the end of
 * the turn (a microtask), instead of `nc.publish` per result (a TextEncoder
 * copy of the payload, a protocol line encoded as a string, a chunk per part
 * packed again). The client keeps frames in the order given, so a reading's
 * acknowledgement (sent later, on the same connection) still follows its
 * results. Falls back to `nc.publish` where the client does not expose its
 * protocol handler.
 */
export class ResultOut {
  readonly #nc: NatsConnection;
  readonly #raw: RawSender | undefined;
  readonly #maxPayload: number;
  /** `PUB ` and the result subject up to the device id; the subject after it and a space. */
  readonly #before: string;
  readonly #after: string;
  #buf: Buffer = Buffer.allocUnsafe(MIN_BYTES);
  #len = 0;
  #scheduled = false;
  readonly #flush = (): void => this.flush();

  constructor(nc: NatsConnection, resultSubject: string) {
    this.#nc = nc;
    const parts = resultSubjectParts(resultSubject);
    this.#before = `PUB ${parts.before}`;
    this.#after = `${parts.after} `;
    const p = (nc as unknown as { protocol?: Partial<RawSender> }).protocol;
    this.#raw = typeof p?.sendCommand === 'function' ? (p as RawSender) : undefined;
    this.#maxPayload = nc.info?.max_payload ?? 1024 * 1024;
  }

  /** Queues a device's result for the end of this turn. A closed or draining connection takes nothing (the reading stays unacknowledged). */
  publish(device: string, payload: string): void {
    if (this.#nc.isClosed() || this.#nc.isDraining()) return;
    const pl = Buffer.byteLength(payload);
    if (this.#raw === undefined || pl > this.#maxPayload) {
      this.#nc.publish(`${this.#before.slice(4)}${device}${this.#after.slice(0, -1)}`, payload); // throws for a payload over max_payload, as before
      return;
    }
    // The frame: PUB <before><device><after> <bytes>\r\n<payload>\r\n
    const head = `${this.#before}${device}${this.#after}${pl}\r\n`;
    const hl = Buffer.byteLength(head);
    const need = hl + pl + 2;
    if (this.#len + need > this.#buf.length) this.#grow(need);
    const b = this.#buf;
    let o = this.#len;
    o += b.write(head, o, hl === head.length ? 'latin1' : 'utf8');
    o += b.write(payload, o, pl === payload.length ? 'latin1' : 'utf8');
    b[o] = 13;
    b[o + 1] = 10;
    this.#len = o + 2;
    if (!this.#scheduled) {
      this.#scheduled = true;
      queueMicrotask(this.#flush);
    }
  }

  /** Hands the queued frames to the client (it writes them to the socket in its own next flush). */
  flush(): void {
    this.#scheduled = false;
    if (this.#len === 0) return;
    const out = this.#buf.subarray(0, this.#len);
    // The socket may hold `out` until it is written: the next turn encodes into a buffer of its own.
    this.#buf = Buffer.allocUnsafe(Math.max(MIN_BYTES, this.#len));
    this.#len = 0;
    if (!this.#nc.isClosed()) this.#raw!.sendCommand(out);
  }

  #grow(need: number): void {
    const next = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#len + need));
    this.#buf.copy(next, 0, 0, this.#len);
    this.#buf = next;
  }
}
