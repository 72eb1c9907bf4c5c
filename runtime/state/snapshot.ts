import { createHash } from 'node:crypto';
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { writeFileAtomic } from '../util/atomic-write';
import { EdgeLstmError } from '../errors';
import type { DeviceStateStore } from './store';

/**
 * Bumped whenever the layout below or the engine's aux row changes; older
 * snapshots are refused, not misread. 2: the detector's per-feature
 * statistics and episodes (runtime/engine/scoring) replaced the likelihood ring.
 * 3: the naive forecast's error statistics. 4: the time-of-day profile and the
 * recent-error statistics that calm an episode. 5: the week profile (its bins
 * stored as float32 pairs in the Float64 row) and the forecast's recalibration.
 * 6: the time-of-day profile's per-hour slots interleaved (one cache line a reading).
 */
export const SNAPSHOT_FORMAT_VERSION = 6;
const MAGIC = Buffer.from('EDGELSTM-STATE\n', 'latin1');

interface SnapshotHeader {
  format: number;
  fingerprint: string;
  model: string;
  stateWidth: number;
  /** Absent in snapshots taken before GRU support: equal to stateWidth then. */
  cellWidth?: number;
  auxWidth: number;
  devices: string[];
  lastUsed: number[];
  takenAt: number;
}

export interface SnapshotIdentity {
  /** SHA-256 of the model the state belongs to. */
  fingerprint: string;
  /** The model's id, for messages. */
  model: string;
}

/**
 * Layout: magic, u32 header length, JSON header, h, c (float32), aux
 * (float64), then a SHA-256 of all that, so a truncated or altered file is
 * caught before anything is restored.
 */
export function encodeSnapshot(store: DeviceStateStore, id: SnapshotIdentity, now = Date.now()): Buffer {
  const devices = store.devices();
  const { stateWidth: w, auxWidth: a } = store.layout;
  const cw = store.layout.cellWidth ?? w;
  const header: SnapshotHeader = {
    format: SNAPSHOT_FORMAT_VERSION,
    fingerprint: id.fingerprint,
    model: id.model,
    stateWidth: w,
    cellWidth: cw,
    auxWidth: a,
    devices,
    lastUsed: devices.map((d) => store.lastUsed(d)!),
    takenAt: now,
  };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const n = devices.length;
  const h = new Float32Array(n * w);
  const c = new Float32Array(n * cw);
  const aux = new Float64Array(n * a);
  devices.forEach((d, i) => {
    const s = store.slotOf(d);
    h.set(store.h.subarray(s * w, (s + 1) * w), i * w);
    c.set(store.c.subarray(s * cw, (s + 1) * cw), i * cw);
    aux.set(store.aux.subarray(s * a, (s + 1) * a), i * a);
  });
  const len = Buffer.alloc(4);
  len.writeUInt32LE(json.length);
  const body = Buffer.concat([MAGIC, len, json, Buffer.from(h.buffer), Buffer.from(c.buffer), Buffer.from(aux.buffer)]);
  return Buffer.concat([body, createHash('sha256').update(body).digest()]);
}

/**
 * Restores into an empty-or-not store (restored devices replace same-named
 * ones). Refuses, with the reason, a file that is truncated, altered, of
 * another format version, or taken under another model; the store is
 * untouched then.
 */
export function decodeSnapshotInto(bytes: Uint8Array, store: DeviceStateStore, id: SnapshotIdentity, file = '<snapshot>'): number {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fail = (why: string): never => {
    throw new EdgeLstmError('E_SNAPSHOT', `${file}: state snapshot refused: ${why}`, { file });
  };
  if (buf.length < MAGIC.length + 4 + 32 || !buf.subarray(0, MAGIC.length).equals(MAGIC)) fail('not an edgelstm state snapshot');
  const body = buf.subarray(0, buf.length - 32);
  if (!createHash('sha256').update(body).digest().equals(buf.subarray(buf.length - 32))) fail('checksum mismatch (the file is truncated or corrupt)');
  const jsonLen = buf.readUInt32LE(MAGIC.length);
  let header: SnapshotHeader;
  try {
    header = JSON.parse(buf.subarray(MAGIC.length + 4, MAGIC.length + 4 + jsonLen).toString('utf8')) as SnapshotHeader;
  } catch {
    return fail('unreadable header');
  }
  if (header.format !== SNAPSHOT_FORMAT_VERSION) {
    fail(`format version ${String(header.format)}, this edgelstm reads version ${SNAPSHOT_FORMAT_VERSION}${typeof header.format === 'number' && header.format >= 1 && header.format < SNAPSHOT_FORMAT_VERSION ? ` (version ${String(header.format)} holds the scoring statistics of an older detector; devices start clean and learn their normal again)` : ''}`);
  }
  if (header.fingerprint !== id.fingerprint) {
    fail(`it was taken under model ${header.model} (sha256 ${header.fingerprint.slice(0, 12)}…), not the loaded model ${id.model} (sha256 ${id.fingerprint.slice(0, 12)}…)`);
  }
  const { stateWidth: w, auxWidth: a } = store.layout;
  const cw = store.layout.cellWidth ?? w;
  const hcw = header.cellWidth ?? header.stateWidth;
  if (header.stateWidth !== w || hcw !== cw || header.auxWidth !== a) fail(`state layout ${header.stateWidth}/${hcw}/${header.auxWidth}, expected ${w}/${cw}/${a} (h/c/bookkeeping per device)`);
  const n = header.devices.length;
  const start = MAGIC.length + 4 + jsonLen;
  const need = start + n * (w + cw) * 4 + n * a * 8;
  if (body.length !== need) fail(`expected ${need} bytes of state, found ${body.length}`);
  // Copy out of the (possibly unaligned) buffer before touching the store.
  const copy = new Uint8Array(body.subarray(start));
  const h = new Float32Array(copy.buffer, 0, n * w);
  const c = new Float32Array(copy.buffer, n * w * 4, n * cw);
  const aux = new Float64Array(copy.buffer, n * (w + cw) * 4, n * a);
  header.devices.forEach((d, i) => {
    const slot = store.acquire(d, header.lastUsed[i] ?? 0);
    store.h.set(h.subarray(i * w, (i + 1) * w), slot * w);
    store.c.set(c.subarray(i * cw, (i + 1) * cw), slot * cw);
    store.aux.set(aux.subarray(i * a, (i + 1) * a), slot * a);
  });
  return n;
}

/** Writes atomically: a temporary file, fsync, rename over the old snapshot, fsync the folder (runtime/util/atomic-write.ts). */
export function writeSnapshotFile(path: string, store: DeviceStateStore, id: SnapshotIdentity): number {
  return writeFileAtomic(path, encodeSnapshot(store, id), { mode: 0o600 });
}

export function readSnapshotFile(path: string, store: DeviceStateStore, id: SnapshotIdentity): number {
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new EdgeLstmError('E_SNAPSHOT', `${path}: cannot read state snapshot: ${(e as Error).message}`, { file: path });
  }
  return decodeSnapshotInto(bytes, store, id, path);
}

/** The identity of a state file for a journal's header (`base`): its SHA-256 trailer, or 'empty' when there is none. */
export function snapshotDigest(stateFile: string): string {
  if (!existsSync(stateFile)) return 'empty';
  const fd = openSync(stateFile, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size < 32) return 'empty';
    const tail = Buffer.alloc(32);
    readSync(fd, tail, 0, 32, size - 32);
    return tail.toString('hex');
  } finally {
    closeSync(fd);
  }
}
