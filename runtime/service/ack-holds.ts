/** A held PUBACK: neither asked for (by mqtt.js) nor finished (by the reading) yet. */
export const WAITING = 0;
/** Asked for: mqtt.js wanted to send it, or the packet came through the PublishReader. */
export const ASKED = 1;
/** The reading is done before mqtt.js asked. */
export const FINISHED = 2;
/** Asked for and finished, but an earlier delivery with the same message id is still held: its PUBACK goes first. */
const READY = 3;

/** Keys above the 16-bit message ids: a delivery whose message id is already held gets one of these. */
const KEY_SPAN = 0x10000;
const KEY_ROUNDS = 0x7fff;

/**
 * The QoS 1 readings whose PUBACK is held, by key. A key is the delivery's
 * message id, unless that id is already held: Mosquitto 2.0.11 gives a
 * client's messages their ids when it queues them (counting up, wrapping at
 * 65,535) and sends a queued one as soon as the client's receive maximum
 * allows, whether or not an earlier message with the same id is still
 * unacknowledged. Under the fuzz flood a valid reading waits for its
 * result while 65,535 rejected ones are acknowledged past it, so its id comes
 * again. A PUBACK names only the id, and the broker then removes the oldest
 * message with that id: keyed by id alone, the later delivery's hold replaced
 * the earlier one, one PUBACK was sent for the two, and the other stayed in
 * the broker's in-flight list for the life of the connection (each PUBACK the
 * broker then took walked past all of them: its acknowledgements fell to ~100
 * a second), or, if the later reading finished first, acknowledged the
 * earlier one before its result (not crash-safe). Here a reused id's
 * deliveries get keys of their own, and their PUBACKs go out one each, in the
 * order of delivery.
 */
export class AckHolds {
  readonly #holds = new Map<number, number>();
  /** Per reused message id, the keys of its held deliveries in delivery order (only ids delivered again while held). */
  readonly #chains = new Map<number, number[]>();
  #round = 0;
  /** Deliveries whose message id was still held (the broker reused it). */
  reused = 0;

  /** Holds a new delivery; returns its key (the message id unless that id is held already). */
  take(messageId: number, state: number): number {
    const chain = this.#chains.get(messageId);
    if (chain === undefined && !this.#holds.has(messageId)) {
      this.#holds.set(messageId, state);
      return messageId;
    }
    this.reused++;
    this.#round = (this.#round % KEY_ROUNDS) + 1;
    const key = this.#round * KEY_SPAN + messageId;
    this.#holds.set(key, state);
    if (chain === undefined) this.#chains.set(messageId, [messageId, key]);
    else chain.push(key);
    return key;
  }

  get(key: number): number | undefined {
    return this.#holds.get(key);
  }

  set(key: number, state: number): void {
    this.#holds.set(key, state);
  }

  /** The reading behind `key` is finished and its PUBACK asked for: `send` each PUBACK that may go now, in order. */
  release(key: number, send: (messageId: number) => void): void {
    const messageId = key % KEY_SPAN;
    const chain = this.#chains.get(messageId);
    if (chain === undefined) {
      this.#holds.delete(key);
      send(messageId);
      return;
    }
    this.#holds.set(key, READY);
    let i = 0;
    while (i < chain.length && this.#holds.get(chain[i]!) === READY) {
      this.#holds.delete(chain[i]!);
      send(messageId);
      i++;
    }
    chain.splice(0, i);
    if (chain.length === 0) this.#chains.delete(messageId);
  }

  /** The connection is gone: the broker redelivers every held reading. */
  clear(): void {
    this.#holds.clear();
    this.#chains.clear();
  }

  get size(): number {
    return this.#holds.size;
  }
}
