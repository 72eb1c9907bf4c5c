import type { KeyObject } from 'node:crypto';
import { realpathSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { EdgeLstmError } from '../errors';
import { parseEd25519Key } from '../model/signature';

/** Who may change the model, and how its bytes are fetched. Normalized once by `resolveAcquirePolicy`. */
export interface AcquirePolicy {
  /** The ed25519 key model requests must be signed with. */
  readonly publicKey: KeyObject | undefined;
  /** Unsigned requests accepted: an explicit opt-out, warned about at start. */
  readonly allowUnsigned: boolean;
  /** Real path of the directory `path` requests may name regular files in; undefined: path requests refused. */
  readonly modelsDir: string | undefined;
  /** http:// URLs accepted besides https://. */
  readonly allowHttp: boolean;
  /** Lowercase host names URLs may name; empty: any host. */
  readonly allowedHosts: readonly string[];
  /** Largest model read or downloaded, bytes. */
  readonly maxBytes: number;
  /** Longest a read or download may take, ms (connect, headers and body together). */
  readonly timeoutMs: number;
}

export interface AcquireOptions {
  /** PEM ed25519 public key (SPKI). */
  publicKeyPem?: string | Uint8Array;
  /** Default false: without a key nothing but the operator's own files changes the model. */
  allowUnsigned?: boolean;
  /** Default none: `path` requests refused. */
  modelsDir?: string;
  /** Default false. */
  allowHttp?: boolean;
  /** Default []: any host. */
  allowedHosts?: readonly string[];
  /** Default 256 MiB. */
  maxBytes?: number;
  /** Default 60000. */
  timeoutMs?: number;
}

export const ACQUIRE_DEFAULTS = { maxBytes: 256 * 1024 * 1024, timeoutMs: 60_000 } as const;

function bad(field: string, expected: string, found: string): EdgeLstmError {
  return new EdgeLstmError('E_CONFIG', `${field}: expected ${expected}, found ${found}`, { field, expected, found });
}

/** Checks and normalizes the options; E_CONFIG naming the option otherwise. */
export function resolveAcquirePolicy(o: AcquireOptions): AcquirePolicy {
  const publicKey = o.publicKeyPem !== undefined ? parseEd25519Key(o.publicKeyPem, 'public', 'model public key') : undefined;
  let modelsDir: string | undefined;
  if (o.modelsDir !== undefined) {
    try {
      modelsDir = realpathSync(resolve(o.modelsDir));
    } catch {
      throw bad('models-dir', 'an existing directory', o.modelsDir);
    }
    if (!statSync(modelsDir).isDirectory()) throw bad('models-dir', 'a directory', o.modelsDir);
  }
  const maxBytes = o.maxBytes ?? ACQUIRE_DEFAULTS.maxBytes;
  if (!Number.isInteger(maxBytes) || maxBytes < 1) throw bad('max-model-bytes', 'a positive integer', String(maxBytes));
  const timeoutMs = o.timeoutMs ?? ACQUIRE_DEFAULTS.timeoutMs;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw bad('model-fetch-timeout-s', 'a positive number', String(timeoutMs));
  const allowedHosts = (o.allowedHosts ?? []).map((h) => h.trim().toLowerCase()).filter((h) => h.length > 0);
  for (const h of allowedHosts) if (!/^[a-z0-9.:[\]-]+$/.test(h)) throw bad('model-hosts', 'host names', h);
  return { publicKey, allowUnsigned: o.allowUnsigned ?? false, modelsDir, allowHttp: o.allowHttp ?? false, allowedHosts, maxBytes, timeoutMs };
}

/** What an operator must be told loudly at start about a weakened policy. */
export function policyWarnings(p: AcquirePolicy): string[] {
  const out: string[] = [];
  if (p.allowUnsigned && p.publicKey === undefined) out.push('UNSIGNED MODELS ACCEPTED: any client that can publish to the control topics can replace the model (--allow-unsigned-models). Configure --model-public-key instead.');
  if (p.allowHttp) out.push('http:// model URLs accepted: the download is not authenticated by TLS (the SHA-256 still is checked).');
  return out;
}
