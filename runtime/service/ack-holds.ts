/** A held PUBACK: neither asked for (by mqtt.js) nor finished (by the reading) yet. */
export const WAITING = 0;
/** Asked for: mqtt.js wanted to send it, or the packet came through the PublishReader. */
export const ASKED = 1;
/** The reading is done before mqtt.js asked. */
export const FINISHED = 2;
/** Asked for and finished, but an earlier delivery is still held: its PUBACK goes first. */
const READY = 3;

/** Keys above the 16-bit message ids: a delivery whose message id is already held gets one of these. */
const KEY_SPAN = 0x10000;
const KEY_ROUNDS = 0x7fff;

/**
 * The QoS 1 readings whose PUBACK is held, by key, and the order their
 * PUBACKs go out in: the order of delivery.
 *
 * Order: Mosquitto 2.0.11 looks up each PUBACK by walking the client's
 * in-flight list from its oldest message. Readings finish out of order (a
 * rejected one at once, a valid one when its result is acknowledged), so
 * acknowledging each as it finished made every PUBACK of a rejected reading
 * walk past all the valid ones still waiting: under the fuzz flood (thousands
 * held) the broker spent ~90% of its CPU in that walk and acknowledged the
 * service's results at ~100 a second, while the service held the results and
 * their readings in memory. Released in delivery order, each PUBACK names the
 * broker's oldest message. A finished reading's PUBACK waits for every
 * earlier one's, never longer than the oldest held reading takes.
 *
 * Keys: a key is the delivery's message id, unless that id is already held.
 * Mosquitto gives a client's messages their ids when it queues them (counting
 * up, wrapping at 65,535) and sends a queued one as soon as the receive
 * maximum allows, whether or not an earlier message with the same id is still
 * unacknowledged (a valid reading waiting while 65,535 others pass it). A
 * PUBACK names only the id and the broker removes the oldest message with it:
 * keyed by id alone, the later delivery's hold replaced the earlier one, one
 * PUBACK went for the two and the other stayed at the broker for the life of
 * the connection, or, the later reading finishing first, the earlier one was
 * acknowledged before its result (not crash-safe). A reused id's delivery gets
 * a key of its own; delivery order keeps its PUBACK after the earlier one's.
 */
export class AckHolds {
  readonly #holds = new Map<number, number>();
  /** Keys in delivery order; #head is the oldest still held. */
  #order: number[] = [];
  #head = 0;
  #round = 0;
  /** Deliveries whose message id was still held (the broker reused it). */
  reused = 0;

  /** Holds a new delivery; returns its key (the message id unless that id is held already). */
  take(messageId: number, state: number): number {
    let key = messageId;
    if (this.#holds.has(messageId)) {
      this.reused++;
      do {
        this.#round = (this.#round % KEY_ROUNDS) + 1;
        key = this.#round * KEY_SPAN + messageId;
      } while (this.#holds.has(key));
    }
    this.#holds.set(key, state);
    this.#order.push(key);
    return key;
  }

  get(key: number): number | undefined {
    return this.#holds.get(key);
  }

  set(key: number, state: number): void {
    this.#holds.set(key, state);
  }

  /** The reading behind `key` is finished and its PUBACK asked for: `send` each PUBACK that may go now, oldest first. */
  release(key: number, send: (messageId: number) => void): void {
    this.#holds.set(key, READY);
    const order = this.#order;
    let i = this.#head;
    while (i < order.length && this.#holds.get(order[i]!) === READY) {
      const k = order[i++]!;
      this.#holds.delete(k);
      send(k % KEY_SPAN);
    }
    this.#head = i;
    if (i === order.length) {
      order.length = 0;
      this.#head = 0;
    } else if (i > 4096 && i * 2 > order.length) {
      this.#order = order.slice(i);
      this.#head = 0;
    }
  }

  /** The connection is gone: the broker redelivers every held reading. */
  clear(): void {
    this.#holds.clear();
    this.#order = [];
    this.#head = 0;
  }

  get size(): number {
    return this.#holds.size;
  }
}
