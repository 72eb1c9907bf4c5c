import type { JsMsg } from 'nats';

/** A reading taken from the stream, until its results are out and it can be acknowledged. */
export interface InFlight {
  readonly seq: number;
  readonly msg: JsMsg;
  /** Results (or publish acknowledgements) still awaited. */
  left: number;
}

/**
 * A partition's readings taken, in stream order, acknowledged as a prefix:
 * a reading is acknowledged (AckAll) only once it and every reading before
 * it are answered, so a crash loses nothing.
 */
export class OrderedAcks {
  readonly #turn: AckTurn;
  readonly #inflight: InFlight[] = [];
  #head = 0;
  #ackMsg: JsMsg | undefined;
  #stopped = false;
  /** The last reading acknowledged (its stream sequence), 0 before the first. */
  ackedSeq = 0;

  constructor(turn: AckTurn) {
    this.#turn = turn;
  }

  /** Records a reading taken; its `left` is set by the caller. */
  take(seq: number, msg: JsMsg): InFlight {
    const entry: InFlight = { seq, msg, left: 0 };
    this.#inflight.push(entry);
    return entry;
  }

  /** Readings taken and not yet acknowledged. */
  get open(): number {
    return this.#inflight.length - this.#head;
  }

  /**
   * Acknowledges the longest answered prefix of the readings taken, in stream
   * order (one AckAll for its last one, whose sequence is then `ackedSeq`):
   * returns how many readings it grew by (0: it did not grow).
   */
  advance(): number {
    const from = this.#head;
    while (this.#head < this.#inflight.length && this.#inflight[this.#head]!.left <= 0) this.#head++;
    const n = this.#head - from;
    if (n === 0) return 0;
    const last = this.#inflight[this.#head - 1]!;
    this.ackedSeq = last.seq;
    if (this.#head > 1024 && this.#head * 2 > this.#inflight.length) {
      this.#inflight.splice(0, this.#head);
      this.#head = 0;
    }
    this.#ackDue(last.msg);
    return n;
  }

  /** No acknowledgement goes out any more, not even one already due (the lease is lost, or may be). */
  stop(): void {
    this.#stopped = true;
  }

  /**
   * One AckAll per turn of the event loop (AckTurn), for the last reading answered in it:
   * an engine batch completes hundreds of readings at once, and each ack is a
   * message to the server. A later ack only lets the next owner flag a few more.
   */
  #ackDue(m: JsMsg): void {
    const first = this.#ackMsg === undefined;
    this.#ackMsg = m;
    if (first) this.#turn.due(this);
  }

  /** Sends the acknowledgement due, if any (AckTurn calls it). */
  sendDue(): void {
    const last = this.#ackMsg;
    this.#ackMsg = undefined;
    if (last !== undefined && !this.#stopped) last.ack();
  }
}

/**
 * The acknowledgements due in one turn of the event loop, of every partition
 * of an instance, sent together at the end of the turn (a microtask queued at
 * the first one due). A reading's acknowledgement becomes due only after its
 * results were handed to ResultOut, whose flush was queued (as a microtask)
 * at the first of them, before: the results reach the connection's outbound
 * buffer first, and both go out in the client's one socket write of the turn
 * (a callback per partition was a write each).
 */
export class AckTurn {
  #due: OrderedAcks[] = [];
  readonly #send = (): void => {
    const due = this.#due;
    this.#due = [];
    for (const a of due) a.sendDue();
  };

  due(a: OrderedAcks): void {
    if (this.#due.push(a) === 1) queueMicrotask(this.#send);
  }
}
