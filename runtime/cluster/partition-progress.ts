import type { ConsumerInfo, JetStreamManager, KV } from 'nats';

/**
 * Where a partition's owners have got to, kept in a KV entry that outlives
 * owners: the consumer the current owner reads from, and the watermarks it
 * inherited from every earlier owner (their consumers are gone, so their
 * acknowledged and delivered sequences live on only here).
 */
export interface PartitionProgress {
  /** The current owner's durable consumer. */
  consumer: string;
  /** Readings up to this stream sequence were answered (and acknowledged) by an earlier owner. */
  answered: number;
  /** Readings up to this stream sequence were delivered to an earlier owner: they may have been answered. */
  maybe: number;
}

export interface ProgressEntry {
  progress: PartitionProgress | undefined;
  /** KV revision the entry was read at (0: no entry): the next owner writes with compare-and-set on it. */
  revision: number;
}

const key = (p: number): string => `p${p}`;

/** Reads a partition's progress; an entry of the first format (a bare consumer name) carries no watermarks. */
export async function readProgress(kv: KV, partition: number): Promise<ProgressEntry> {
  const e = await kv.get(key(partition));
  if (e === null) return { progress: undefined, revision: 0 };
  if (e.operation !== 'PUT') return { progress: undefined, revision: e.revision };
  const text = e.string();
  if (!text.startsWith('{')) return { progress: { consumer: text, answered: 0, maybe: 0 }, revision: e.revision };
  const o = JSON.parse(text) as Partial<PartitionProgress>;
  const n = (v: unknown): number => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : 0);
  return { progress: { consumer: String(o.consumer ?? ''), answered: n(o.answered), maybe: n(o.maybe) }, revision: e.revision };
}

/**
 * Writes a partition's progress by compare-and-set on the revision it was
 * read at: refused (throws) when anyone wrote it since, so two owners (or a
 * stale read) never record progress over each other.
 */
export async function writeProgress(kv: KV, partition: number, progress: PartitionProgress, revision: number): Promise<number> {
  const text = JSON.stringify(progress);
  return revision === 0 ? kv.create(key(partition), text) : kv.update(key(partition), text, revision);
}

/** A consumer's info, or undefined only when the server says it does not exist; any other failure throws. */
export async function consumerInfoIfAny(jsm: JetStreamManager, stream: string, consumer: string): Promise<ConsumerInfo | undefined> {
  try {
    return await jsm.consumers.info(stream, consumer);
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

export function isNotFound(e: unknown): boolean {
  const code = (e as { api_error?: { err_code?: number } }).api_error?.err_code;
  return code === 10014 || /consumer not found/i.test((e as Error).message ?? '');
}
