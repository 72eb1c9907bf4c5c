import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import { EdgeLstmError } from '../errors';
import type { DeviceStateStore } from './store';

/** Bumped whenever the layout below changes; older snapshots are refused, not misread. */
export const SNAPSHOT_FORMAT_VERSION = 1;
const MAGIC = Buffer.from('EDGELSTM-STATE\n', 'latin1');

interface SnapshotHeader {
  format: number;
  fingerprint: string;
  model: string;
  stateWidth: number;
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
  const header: SnapshotHeader = {
    format: SNAPSHOT_FORMAT_VERSION,
    fingerprint: id.fingerprint,
    model: id.model,
    stateWidth: w,
    auxWidth: a,
    devices,
    lastUsed: devices.map((d) => store.lastUsed(d)!),
    takenAt: now,
  };
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const n = devices.length;
  const h = new Float32Array(n * w);
  const c = new Float32Array(n * w);
  const aux = new Float64Array(n * a);
  devices.forEach((d, i) => {
    const s = store.slotOf(d);
    h.set(store.h.subarray(s * w, (s + 1) * w), i * w);
    c.set(store.c.subarray(s * w, (s + 1) * w), i * w);
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
  if (header.format !== SNAPSHOT_FORMAT_VERSION) fail(`format version ${String(header.format)}, this edgelstm reads version ${SNAPSHOT_FORMAT_VERSION}`);
  if (header.fingerprint !== id.fingerprint) {
    fail(`it was taken under model ${header.model} (sha256 ${header.fingerprint.slice(0, 12)}…), not the loaded model ${id.model} (sha256 ${id.fingerprint.slice(0, 12)}…)`);
  }
  const { stateWidth: w, auxWidth: a } = store.layout;
  if (header.stateWidth !== w || header.auxWidth !== a) fail(`state layout ${header.stateWidth}/${header.auxWidth}, expected ${w}/${a}`);
  const n = header.devices.length;
  const start = MAGIC.length + 4 + jsonLen;
  const need = start + n * w * 4 * 2 + n * a * 8;
  if (body.length !== need) fail(`expected ${need} bytes of state, found ${body.length}`);
  // Copy out of the (possibly unaligned) buffer before touching the store.
  const copy = new Uint8Array(body.subarray(start));
  const h = new Float32Array(copy.buffer, 0, n * w);
  const c = new Float32Array(copy.buffer, n * w * 4, n * w);
  const aux = new Float64Array(copy.buffer, n * w * 8, n * a);
  header.devices.forEach((d, i) => {
    const slot = store.acquire(d, header.lastUsed[i] ?? 0);
    store.h.set(h.subarray(i * w, (i + 1) * w), slot * w);
    store.c.set(c.subarray(i * w, (i + 1) * w), slot * w);
    store.aux.set(aux.subarray(i * a, (i + 1) * a), slot * a);
  });
  return n;
}

/** Writes atomically: a temporary file, fsync, rename over the old snapshot, fsync the folder. */
export function writeSnapshotFile(path: string, store: DeviceStateStore, id: SnapshotIdentity): number {
  const bytes = encodeSnapshot(store, id);
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, bytes);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw e;
  }
  closeSync(fd);
  renameSync(tmp, path);
  try {
    const dfd = openSync(dirname(path), 'r');
    fsyncSync(dfd);
    closeSync(dfd);
  } catch {
    // Some filesystems refuse fsync on a directory; the rename is still atomic.
  }
  return bytes.length;
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
