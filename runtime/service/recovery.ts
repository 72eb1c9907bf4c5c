import { copyFileSync, existsSync, readFileSync, renameSync, statSync } from 'node:fs';
import { isEpisodeEvent } from '../engine/scoring/result-fields';
import type { EngineHost } from '../host/engine-host';
import { writeFileAtomic } from '../util/atomic-write';
import { snapshotDigest } from '../state/snapshot';
import { Journal, readJournal, type JournalContents, type JournalRecord } from './journal';

/** A result computed while replaying the journal, published if the broker delivers its reading again. */
export interface ReplayedResult {
  payload: string;
  /** An episode's start or end: it goes to the anomaly topic too. */
  anomaly: boolean;
}

/** The default size limit of a state or journal file: larger ones are refused unread. */
export const STATE_FILE_MAX_BYTES = 1 << 30;

/** Results of the journal's last readings kept for redeliveries (bounded by MQTT 5's receive maximum). */
const REPLAY_RESULTS_KEPT = 65536;

/** Readings at one device's last timestamp remembered besides the first: the latest ones (older ones, if sent again, are stepped again). */
const SAME_TS_KEPT = 64;

interface AtLast {
  ts: number;
  values: ArrayLike<number>;
  more: ArrayLike<number>[] | undefined;
}

function sameValues(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

export interface RecoveryOptions {
  /** The state snapshot; undefined: no state is kept across restarts. */
  stateFile: string | undefined;
  /** The write-ahead journal beside it (needs the state file). */
  journalFile: string | undefined;
  /** Journal records stepped per engine flush while replaying. */
  replayChunk: number;
  log: RecoveryLog;
  /** State and journal files larger than this are refused before a byte is read (kept aside). Default STATE_FILE_MAX_BYTES. */
  maxFileBytes?: number;
  /** Payloads of results handed to the broker and not yet acknowledged (read at each snapshot). */
  unackedResults: () => Promise<string[]>;
}

export interface RecoveryLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/**
 * What lets the service continue where it stopped, however it stopped: the
 * last timestamp submitted and stepped per device (redelivery dedupe), the
 * state snapshot with those timestamps beside it, and the journal of the
 * readings since the snapshot with its replay policy. Holds no broker: the
 * caller gives it the engine host and the unacknowledged results.
 */
export class Recovery {
  readonly #o: RecoveryOptions;
  readonly #host: EngineHost;
  #journal: Journal | undefined;
  /** Last timestamp handed to the engine per device: a reading at or before it is a redelivery. */
  readonly submittedTs = new Map<string, number>();
  /** Last timestamp stepped per device: saved with the snapshot. */
  readonly steppedTs = new Map<string, number>();
  /** The values submitted at the device's last timestamp: equal timestamps with other values are new readings. */
  readonly #atLast = new Map<string, AtLast>();
  /** device -> ts -> result, for readings stepped by the journal replay (their result may never have gone out). */
  readonly #replayed = new Map<string, Map<number, ReplayedResult>>();

  constructor(host: EngineHost, o: RecoveryOptions) {
    this.#host = host;
    this.#o = o;
  }

  /** The journal, once `restore` opened it (undefined without one). */
  get journal(): Journal | undefined {
    return this.#journal;
  }

  /** Forgets what is kept about a device whose state went (evicted, expired). */
  forget(device: string): void {
    this.#atLast.delete(device);
    this.submittedTs.delete(device);
    this.steppedTs.delete(device);
  }

  /** Forgets every device's timestamps (a model swap that reset the states). */
  forgetAll(): void {
    this.#atLast.clear();
    this.submittedTs.clear();
    this.steppedTs.clear();
  }

  /**
   * Whether a reading was already handed to the engine: its timestamp is before the device's last one, or
   * equal to it with values already submitted at that timestamp. Equal timestamps whose values are not known
   * (the last timestamp came from a snapshot or a journal header) count as redeliveries: stepping one twice
   * would be worse than skipping a reading that shares a millisecond with the last one before a restart.
   */
  isRedelivery(device: string, ts: number, values: ArrayLike<number>): boolean {
    const last = this.submittedTs.get(device);
    if (last === undefined || ts > last) return false;
    if (ts < last) return true;
    const a = this.#atLast.get(device);
    if (a === undefined || a.ts !== ts) return true;
    if (sameValues(a.values, values)) return true;
    if (a.more !== undefined) for (const v of a.more) if (sameValues(v, values)) return true;
    return false;
  }

  /** Records a reading handed to the engine (see isRedelivery). */
  submitted(device: string, ts: number, values: ArrayLike<number>): void {
    this.submittedTs.set(device, ts);
    const a = this.#atLast.get(device);
    if (a === undefined) this.#atLast.set(device, { ts, values, more: undefined });
    else if (a.ts !== ts) {
      a.ts = ts;
      a.values = values;
      a.more = undefined;
    } else {
      const more = (a.more ??= []);
      if (more.length >= SAME_TS_KEPT) more.shift();
      more.push(values);
    }
  }

  /** The replayed result of a redelivered reading, once (undefined: none kept). */
  takeReplayed(device: string, ts: number): ReplayedResult | undefined {
    if (this.#replayed.size === 0) return undefined;
    const m = this.#replayed.get(device);
    const r = m?.get(ts);
    if (r !== undefined) m!.delete(ts);
    return r;
  }

  /** Restores the snapshot and, with a journal, steps its readings again (nothing published). */
  async restore(): Promise<void> {
    const file = this.#o.stateFile;
    if (!file) return;
    this.#refuseIfTooLarge(file, 'state file');
    if (this.#o.journalFile) this.#refuseIfTooLarge(this.#o.journalFile, 'journal');
    if (this.#o.journalFile) return this.#restoreWithJournal(file, this.#o.journalFile);
    if (await this.#host.restore(file)) this.#restoreLastTs(file);
  }

  /**
   * Writes the state snapshot and, beside it, each device's last stepped
   * timestamp; with the journal, starts the journal over. The caller makes
   * sure no batch runs and (with the journal) nothing is admitted.
   */
  async snapshot(): Promise<void> {
    const file = this.#o.stateFile;
    if (!file) return;
    const j = this.#journal;
    // Results the broker has not confirmed are lost with the process, and their readings, held in the snapshot, would
    // not be stepped again when delivered again: the journal keeps them, noted before the snapshot (for a crash before
    // the rotation) and in the new journal's header. (Waiting for them here cannot work: with nothing admitted the
    // client reads no PUBACK.)
    let unacked: string[] | undefined;
    if (j) {
      await j.sync();
      unacked = await this.#o.unackedResults();
      await j.noteUnacked(unacked);
    }
    const engine = this.#host.engine;
    await engine.saveState(file);
    // Synchronously after saveState (no batch can run in between), so both describe the same moment.
    const lastTs = Object.fromEntries(this.steppedTs);
    // Device ids: private like the snapshot beside it.
    writeFileAtomic(`${file}.ts.json`, JSON.stringify({ fingerprint: engine.model.fingerprint, lastTs }), { mode: 0o600 });
    if (j && unacked) {
      // A crash before this line leaves a journal naming the previous snapshot: startup sees it is older and does not
      // replay it, and answers redeliveries from the results noted in it above.
      await j.rotate({ base: snapshotDigest(file), fingerprint: engine.model.fingerprint, lastTs, unacked, createdAt: Date.now() });
      this.#replayed.clear();
    }
  }

  /**
   * A file over the size limit is not read (a 1 GB file would be held whole in memory before being refused):
   * it is renamed aside (`FILE.refused-<ms>`), said in the log, and the service starts as without it.
   */
  #refuseIfTooLarge(path: string, what: string): void {
    const max = this.#o.maxFileBytes ?? STATE_FILE_MAX_BYTES;
    let size: number;
    try {
      size = statSync(path).size;
    } catch {
      return;
    }
    if (size <= max) return;
    const aside = `${path}.refused-${Date.now()}`;
    renameSync(path, aside);
    this.#o.log.error({ file: path, bytes: size, maxBytes: max, keptAs: aside }, `${what} refused unread: ${size} bytes is over the limit of ${max}; kept aside, starting without it`);
  }

  /** Copies a damaged or discarded journal aside (`FILE.damaged-<ms>`) before it is cut or replaced; returns the copy's name. */
  #keepAside(jfile: string): string | undefined {
    const aside = `${jfile}.damaged-${Date.now()}`;
    try {
      copyFileSync(jfile, aside);
      return aside;
    } catch (e) {
      this.#o.log.error({ file: jfile, err: (e as Error).message }, 'could not keep the damaged journal aside');
      return undefined;
    }
  }

  #restoreLastTs(file: string): void {
    try {
      const side = JSON.parse(readFileSync(`${file}.ts.json`, 'utf8')) as { fingerprint: string; lastTs: Record<string, number> };
      if (side.fingerprint === this.#host.model.fingerprint) this.#setLastTs(side.lastTs);
    } catch {
      // No timestamps saved: no dedupe of the first redeliveries.
    }
  }

  #setLastTs(lastTs: Record<string, number>): void {
    for (const [d, t] of Object.entries(lastTs)) {
      this.steppedTs.set(d, t);
      this.submittedTs.set(d, t);
    }
  }

  /**
   * Snapshot, then the journal's readings stepped again (nothing published),
   * so the state is the one the service had when it stopped, however it
   * stopped. A journal that extends an older snapshot (a crash between the
   * snapshot and the journal's rotation) is not replayed: the snapshot holds it.
   */
  async #restoreWithJournal(file: string, jfile: string): Promise<void> {
    const { log } = this.#o;
    const fp = this.#host.model.fingerprint;
    const j = this.#readJournal(jfile, fp);
    const digest = snapshotDigest(file);
    // A journal extending the empty state was started when no snapshot could be used: any state file is older.
    const restored = j?.header.base !== 'empty' && (await this.#host.restore(file));
    if (j !== undefined && (j.header.base === 'empty' || (restored && j.header.base === digest))) {
      this.#setLastTs(j.header.lastTs);
      this.#keepForRedelivery(j.header.unacked ?? []);
      this.#keepForRedelivery(j.unacked);
      const started = Date.now();
      await this.#replay(j.records);
      log.info({ file: jfile, records: j.records.length, ms: Date.now() - started }, 'journal replayed: state as it was at the crash');
      this.#journal = Journal.continue(jfile, j.validBytes);
    } else {
      if (j !== undefined && !restored && j.records.length > 0) {
        // Its snapshot is gone or unusable: these readings cannot be stepped on the state they extend.
        const keptAs = this.#keepAside(jfile);
        log.error({ file: jfile, records: j.records.length, base: j.header.base, keptAs }, 'journal discarded: the snapshot it extends could not be restored; its readings are not replayed');
      } else if (j !== undefined && restored && j.header.base !== digest) log.info({ file: jfile, records: j.records.length }, 'journal not replayed: it extends an older snapshot, which holds its readings');
      if (restored && j !== undefined) {
        // The snapshot already holds these readings; they still tell the last timestamps.
        this.#setLastTs(j.header.lastTs);
        for (const r of j.records) this.#setLastTs({ [r.device]: r.ts });
        // Noted just before that snapshot: the answers to redeliveries of readings it holds.
        this.#keepForRedelivery(j.unacked);
      } else if (restored) this.#restoreLastTs(file);
      this.#journal = Journal.create(jfile, { base: restored ? digest : 'empty', fingerprint: fp, lastTs: Object.fromEntries(this.steppedTs), createdAt: Date.now() });
    }
    this.#journal.onDeleted = () => log.error({ file: jfile }, 'journal file DELETED while running: readings acknowledged from now until the next snapshot would be lost in a crash');
    this.#journal.onError = (e) => log.error({ err: e.message, file: jfile }, 'journal write failed; acknowledgements held until it succeeds (retrying)');
  }

  /** The journal when it can be replayed under the model `fp`; undefined (logged) otherwise. */
  #readJournal(jfile: string, fp: string): JournalContents | undefined {
    if (!existsSync(jfile)) return undefined;
    const { log } = this.#o;
    try {
      const j = readJournal(jfile);
      if (j.damaged) {
        // Not a crash mid-write: blocks follow the bad one. The file is kept as evidence before it is cut back.
        const keptAs = this.#keepAside(jfile);
        log.error({ file: jfile, damage: j.damaged, recordsUsed: j.records.length, keptAs }, 'journal DAMAGED (not a torn tail): the records before the damage are used, those after it are lost');
      } else if (j.torn) log.warn({ file: jfile, torn: j.torn, records: j.records.length }, 'journal: torn tail dropped (a crash mid-write); the complete records are used');
      if (j.header.fingerprint === fp) return j;
      log.warn({ file: jfile }, 'journal written under another model; not replayed');
    } catch (e) {
      log.warn({ err: (e as Error).message }, 'journal unreadable; not replayed');
    }
    return undefined;
  }

  /** What a redelivered reading is answered with, from result payloads. */
  #keepForRedelivery(payloads: readonly string[]): void {
    for (const text of payloads) {
      try {
        const r = JSON.parse(text) as { device?: unknown; ts?: unknown; episode?: { state?: unknown } | null };
        if (typeof r.device !== 'string' || typeof r.ts !== 'number') continue;
        this.#keep(r.device, r.ts, { payload: text, anomaly: r.episode?.state === 'start' || r.episode?.state === 'end' });
      } catch {
        // Not a result.
      }
    }
  }

  #keep(device: string, ts: number, r: ReplayedResult): void {
    let m = this.#replayed.get(device);
    if (!m) this.#replayed.set(device, (m = new Map()));
    m.set(ts, r);
  }

  /** Steps journaled readings without publishing; keeps the results of the last ones for redeliveries. */
  async #replay(records: JournalRecord[]): Promise<void> {
    const engine = this.#host.engine;
    const keepFrom = records.length - REPLAY_RESULTS_KEPT;
    const chunk = Math.max(1, this.#o.replayChunk);
    for (let at = 0; at < records.length; at += chunk) {
      const end = Math.min(records.length, at + chunk);
      for (let i = at; i < end; i++) {
        const r = records[i]!;
        const keep = i >= keepFrom;
        const err = engine.submit({ device: r.device, ts: r.ts, values: r.values }, (e, res) => {
          if (keep && !e && res) this.#keep(res.device, res.ts, { payload: JSON.stringify(res), anomaly: isEpisodeEvent(res) });
        });
        if (err) this.#o.log.warn({ err: err.message, device: r.device }, 'journal record refused by the engine');
        this.steppedTs.set(r.device, r.ts);
        this.submitted(r.device, r.ts, r.values);
      }
      await engine.flush();
    }
  }
}
