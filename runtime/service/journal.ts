import { createHash } from 'node:crypto';
import { closeSync, fdatasync, fstatSync, fsyncSync, ftruncateSync, openSync, readFileSync, write } from 'node:fs';
import { writeFileAtomic } from '../util/atomic-write';
import { EdgeLstmError } from '../errors';

/**
 * The write-ahead journal of the MQTT service: every reading handed to the
 * engine since the last state snapshot, so that after a crash (kill -9,
 * power loss) the service restores the snapshot, steps these readings again
 * and continues exactly where it stopped.
 *
 * Readings are appended to a memory buffer; the buffer is written as one
 * block and fdatasync'd once per event-loop turn at most (group commit: while
 * a sync runs, the next block gathers). A reading's QoS 1 PUBACK waits for
 * `afterDurable(seq)`, so a reading the broker will not deliver again is on
 * disk.
 *
 * File: the magic line, a header block, then record blocks. A block is a u32
 * length, the payload, and the first 8 bytes of the payload's SHA-256; a
 * block cut short or not matching its hash (a crash mid-write) ends the
 * journal there: the blocks before it are used, the rest is dropped.
 * The header names the snapshot the journal extends (`base`: the SHA-256
 * trailer of the state file, or 'empty' for a fresh state) and the model.
 */

const MAGIC = Buffer.from('EDGELSTM-JOURNAL 1\n', 'latin1');
const HASH_BYTES = 8;
const KIND_HEADER = 0x48; // 'H'
const KIND_RECORDS = 0x52; // 'R'
/** Results not yet confirmed by the broker, written just before a snapshot (see `noteUnacked`). */
const KIND_UNACKED = 0x55; // 'U'

export interface JournalHeader {
  /** The state snapshot these records extend: its SHA-256 trailer in hex, or 'empty' (no state). */
  base: string;
  /** SHA-256 of the model that stepped the records. */
  fingerprint: string;
  /** Last timestamp stepped per device at the snapshot (redelivery dedupe). */
  lastTs: Record<string, number>;
  /** Results (payloads) handed to the broker but not confirmed at the snapshot: answers for readings delivered again. */
  unacked?: string[];
  createdAt: number;
}

export interface JournalRecord {
  device: string;
  ts: number;
  values: number[];
}

export interface JournalContents {
  header: JournalHeader;
  records: JournalRecord[];
  /** Bytes of complete blocks: where appending continues. */
  validBytes: number;
  /** Set when a tail was dropped: what and why. */
  torn: string | undefined;
  /**
   * Set when a block in the middle does not match its checksum (complete blocks follow it): damage on disk,
   * not a crash mid-write. Names the block, its byte offset and what follows. `torn` is set too.
   */
  damaged: string | undefined;
  /**
   * Results not confirmed by the broker when a snapshot was about to be taken (`noteUnacked`). When the
   * process died between that snapshot and the journal's rotation, this journal extends an older snapshot
   * and is not replayed, but these still answer the redeliveries of readings the new snapshot holds.
   */
  unacked: string[];
}

function frame(kind: number, payload: Buffer, payloadLength = payload.length): Buffer {
  const out = Buffer.allocUnsafe(4 + 1 + payloadLength + HASH_BYTES);
  out.writeUInt32LE(1 + payloadLength, 0);
  out[4] = kind;
  payload.copy(out, 5, 0, payloadLength);
  createHash('sha256').update(out.subarray(4, 5 + payloadLength)).digest().copy(out, 5 + payloadLength, 0, HASH_BYTES);
  return out;
}

/** Reads a journal; E_SNAPSHOT when the file is not a journal or its header is unreadable. */
export function readJournal(path: string): JournalContents {
  const buf = readFileSync(path);
  const fail = (why: string): never => {
    throw new EdgeLstmError('E_SNAPSHOT', `${path}: journal refused: ${why}`, { file: path });
  };
  if (buf.length < MAGIC.length || !buf.subarray(0, MAGIC.length).equals(MAGIC)) fail('not an edgelstm journal');
  let off = MAGIC.length;
  let header: JournalHeader | undefined;
  const records: JournalRecord[] = [];
  const unacked: string[] = [];
  let torn: string | undefined;
  let damaged: string | undefined;
  let blocks = 0;
  while (off < buf.length) {
    if (off + 4 > buf.length) {
      torn = `${buf.length - off} bytes of an incomplete block length at byte ${off}`;
      break;
    }
    const len = buf.readUInt32LE(off);
    const end = off + 4 + len + HASH_BYTES;
    if (len < 1 || end > buf.length) {
      torn = `a block of ${len} bytes at byte ${off} cut short (file ends at ${buf.length})`;
      break;
    }
    const body = buf.subarray(off + 4, off + 4 + len);
    const want = createHash('sha256').update(body).digest().subarray(0, HASH_BYTES);
    if (!want.equals(buf.subarray(off + 4 + len, end))) {
      torn = `a block at byte ${off} does not match its checksum`;
      // The last block of the file is a write cut short; one with bytes after it is damage.
      if (end < buf.length) damaged = `block ${blocks} (${len} bytes at byte ${off}) does not match its checksum; ${buf.length - end} bytes follow it`;
      break;
    }
    blocks++;
    if (header === undefined) {
      if (body[0] !== KIND_HEADER) fail('first block is not a header');
      try {
        header = JSON.parse(body.subarray(1).toString('utf8')) as JournalHeader;
      } catch {
        fail('unreadable header');
      }
    } else if (body[0] === KIND_RECORDS) decodeRecords(body, records);
    else if (body[0] === KIND_UNACKED) {
      try {
        for (const p of JSON.parse(body.subarray(1).toString('utf8')) as unknown[]) if (typeof p === 'string') unacked.push(p);
      } catch {
        // Checksummed, so written by us: unreadable only from another version; the records stay usable.
      }
    } else {
      torn = `a block of unknown kind ${body[0]} at byte ${off}`;
      break;
    }
    off = end;
  }
  if (header === undefined) return fail(torn ? `header block: ${torn}` : 'no header');
  if (torn) torn = `${torn}; ${buf.length - off} bytes dropped`;
  return { header, records, validBytes: off, torn, damaged, unacked };
}

function decodeRecords(body: Buffer, out: JournalRecord[]): void {
  let p = 1;
  while (p < body.length) {
    const dl = body.readUInt16LE(p);
    const device = body.toString('utf8', p + 2, p + 2 + dl);
    p += 2 + dl;
    const ts = body.readDoubleLE(p);
    const n = body.readUInt16LE(p + 8);
    p += 10;
    const values = new Array<number>(n);
    for (let i = 0; i < n; i++) values[i] = body.readDoubleLE(p + i * 8);
    p += n * 8;
    out.push({ device, ts, values });
  }
}

/** Writes a fresh journal holding only `header`, atomically (temporary file, fsync, rename); returns its size. */
function writeFresh(path: string, header: JournalHeader): number {
  return writeFileAtomic(path, Buffer.concat([MAGIC, frame(KIND_HEADER, Buffer.from(JSON.stringify(header), 'utf8'))]), { mode: 0o600 });
}

interface Waiter {
  seq: number;
  fn: () => void;
}

export class Journal {
  readonly path: string;
  #fd: number;
  #buf = Buffer.allocUnsafe(64 * 1024);
  #len = 0;
  /** Readings appended since the process started; `durable` of them are on disk. */
  #seq = 0;
  #durable = 0;
  #syncing: Promise<void> | undefined;
  #scheduled = false;
  #waiters: Waiter[] = [];
  #failed: Error | undefined;
  /** A block whose write failed: written again before anything else. */
  #retry: { block: Buffer; upTo: number } | undefined;
  /** Bytes of the file known good (a failed write is cut back to this). */
  #size: number;
  #closed = false;
  /** Blocks written and fdatasync'd since start (for metrics and benchmarks). */
  syncs = 0;
  bytes = 0;
  onError: ((e: Error) => void) | undefined;
  /** Called once when the file is found deleted under the open journal (its readings would not survive a crash). */
  onDeleted: (() => void) | undefined;
  #deletedSaid = false;

  private constructor(path: string, fd: number, size: number) {
    this.path = path;
    this.#fd = fd;
    this.#size = size;
  }

  /** Starts a fresh journal at `path` (replacing any) extending the snapshot named in `header`. */
  static create(path: string, header: JournalHeader): Journal {
    const size = writeFresh(path, header); // before opening: the rename replaces the file
    return new Journal(path, openSync(path, 'a'), size);
  }

  /** Continues an existing journal after its last complete block (a torn tail is cut off first). */
  static continue(path: string, validBytes: number): Journal {
    const fd = openSync(path, 'r+');
    try {
      ftruncateSync(fd, validBytes);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    return new Journal(path, openSync(path, 'a'), validBytes);
  }

  /** Readings appended so far (the sequence number of the last one). */
  get appended(): number {
    return this.#seq;
  }

  /** Readings on disk. */
  get durable(): number {
    return this.#durable;
  }

  /** Appends one reading; returns its sequence number (for `afterDurable`). */
  append(device: string, ts: number, values: ArrayLike<number>): number {
    const n = values.length;
    const need = 2 + device.length * 3 + 10 + n * 8;
    if (this.#len + need > this.#buf.length) this.#grow(this.#len + need);
    const b = this.#buf;
    let p = this.#len;
    const dl = b.write(device, p + 2, 'utf8');
    b.writeUInt16LE(dl, p);
    p += 2 + dl;
    b.writeDoubleLE(ts, p);
    b.writeUInt16LE(n, p + 8);
    p += 10;
    for (let i = 0; i < n; i++) b.writeDoubleLE(values[i]!, p + i * 8);
    this.#len = p + n * 8;
    if (!this.#scheduled && !this.#syncing) {
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        void this.#flush();
      });
    }
    return ++this.#seq;
  }

  /** Runs `fn` once reading `seq` is on disk (at once when it is). */
  afterDurable(seq: number, fn: () => void): void {
    if (seq <= this.#durable) fn();
    else this.#waiters.push({ seq, fn });
  }

  /** Writes and fdatasyncs everything appended so far. */
  async sync(): Promise<void> {
    while (this.#syncing || this.#durable < this.#seq) {
      if (this.#failed && !this.#syncing) throw new EdgeLstmError('E_SNAPSHOT', `${this.path}: journal write failed: ${this.#failed.message}`, { file: this.path });
      await (this.#syncing ?? this.#flush());
    }
  }

  /**
   * Writes (and fdatasyncs) the results the broker has not confirmed, after every reading appended so far.
   * Called just before a snapshot: a crash after the snapshot but before `rotate` leaves this journal
   * extending an older snapshot, not replayed, and these results are then the only answer left for the
   * redeliveries of readings the new snapshot already holds.
   */
  async noteUnacked(payloads: readonly string[]): Promise<void> {
    await this.sync();
    if (this.#len > 0) throw new EdgeLstmError('E_SNAPSHOT', 'journal: results noted with readings not yet written', { file: this.path });
    const block = frame(KIND_UNACKED, Buffer.from(JSON.stringify(payloads), 'utf8'));
    await new Promise<void>((resolve, reject) => {
      write(this.#fd, block, 0, block.length, null, (err) => {
        if (err) return reject(err);
        fdatasync(this.#fd, (err2) => (err2 ? reject(err2) : resolve()));
      });
    }).catch((e: unknown) => {
      try {
        ftruncateSync(this.#fd, this.#size);
      } catch {
        // Reported below.
      }
      throw new EdgeLstmError('E_SNAPSHOT', `${this.path}: journal write failed: ${(e as Error).message}`, { file: this.path });
    });
    this.#size += block.length;
    this.bytes += block.length;
  }

  /**
   * After a state snapshot `header.base` that holds every reading appended
   * so far: starts an empty journal extending it. Call between batches, with
   * nothing admitted meanwhile, after `sync()`.
   */
  async rotate(header: JournalHeader): Promise<void> {
    await this.sync();
    if (this.#len > 0) throw new EdgeLstmError('E_SNAPSHOT', 'journal rotation with readings not yet written', { file: this.path });
    closeSync(this.#fd);
    this.#size = writeFresh(this.path, header);
    this.#fd = openSync(this.path, 'a');
    this.#deletedSaid = false;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await this.sync().catch(() => undefined);
    this.#closed = true;
    closeSync(this.#fd);
  }

  #grow(min: number): void {
    const next = Buffer.allocUnsafe(Math.max(min, this.#buf.length * 2));
    this.#buf.copy(next, 0, 0, this.#len);
    this.#buf = next;
  }

  #flush(): Promise<void> {
    if (this.#syncing) return this.#syncing;
    if (this.#closed || (this.#len === 0 && !this.#retry)) return Promise.resolve();
    let job = this.#retry;
    if (!job) {
      // The block is a copy: appends go on into the buffer while it is written.
      job = { block: frame(KIND_RECORDS, this.#buf, this.#len), upTo: this.#seq };
      this.#len = 0;
    }
    const { block, upTo } = job;
    const fd = this.#fd;
    this.#syncing = new Promise<void>((resolve) => {
      const fail = (err: Error): void => {
        // Nothing after a failed block may count as written: cut the file back and retry the same block.
        try {
          ftruncateSync(fd, this.#size);
        } catch {
          // The retry reports it again.
        }
        this.#failed = err;
        this.#retry = job;
        this.#syncing = undefined;
        this.onError?.(err);
        resolve();
        setTimeout(() => void this.#flush(), 1000).unref();
      };
      write(fd, block, 0, block.length, null, (err) => {
        if (err) return fail(err);
        fdatasync(fd, (err2) => {
          if (err2) return fail(err2);
          this.#failed = undefined;
          this.#retry = undefined;
          this.#size += block.length;
          this.syncs++;
          this.bytes += block.length;
          this.#durable = upTo;
          this.#syncing = undefined;
          // A journal deleted under the running service (an over-eager clean-up) is written to nowhere: say so once.
          if (!this.#deletedSaid && fstatSync(fd).nlink === 0) {
            this.#deletedSaid = true;
            this.onDeleted?.();
          }
          this.#release();
          resolve();
          if (this.#len > 0) void this.#flush();
        });
      });
    });
    return this.#syncing;
  }

  #release(): void {
    if (this.#waiters.length === 0) return;
    const durable = this.#durable;
    const keep: Waiter[] = [];
    const ready: Waiter[] = [];
    for (const w of this.#waiters) (w.seq <= durable ? ready : keep).push(w);
    this.#waiters = keep;
    for (const w of ready) w.fn();
  }
}
