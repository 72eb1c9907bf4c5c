import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { EdgeLstmError } from '../errors';
import type { Model } from '../model/load-model';
import { readSignatureFile, SIGNATURE_SUFFIX, verifyModelSignature } from '../model/signature';

/** A request to swap the model: a file path or an http(s) URL, and the SHA-256 the bytes must have. */
export interface ReloadRequest {
  path?: string;
  url?: string;
  /** Hex SHA-256 of the file; required with a URL (the bytes cross a network). */
  sha256?: string;
  /** Base64 ed25519 signature of the model; without it PATH.sig (or URL.sig) is looked for when a public key is configured. */
  signature?: string;
}

/** Parses a control message (`{"path": ...}` or `{"url": ..., "sha256": ...}`); E_PAYLOAD when unusable. */
export function parseReloadRequest(payload: Buffer): ReloadRequest {
  let o: unknown;
  try {
    o = JSON.parse(payload.toString('utf8'));
  } catch {
    throw new EdgeLstmError('E_PAYLOAD', 'model control message is not JSON', { field: 'payload', expected: '{"path"|"url", "sha256"}' });
  }
  if (typeof o !== 'object' || o === null) throw new EdgeLstmError('E_PAYLOAD', 'model control message must be an object', { field: 'payload' });
  const r = o as Record<string, unknown>;
  const req: ReloadRequest = {};
  for (const k of ['path', 'url', 'sha256', 'signature'] as const) {
    if (r[k] !== undefined) {
      if (typeof r[k] !== 'string' || r[k].length === 0) throw new EdgeLstmError('E_PAYLOAD', `${k} must be a non-empty string`, { field: k });
      req[k] = r[k];
    }
  }
  if ((req.path === undefined) === (req.url === undefined)) throw new EdgeLstmError('E_PAYLOAD', 'give exactly one of path and url', { field: 'path' });
  if (req.url !== undefined && req.sha256 === undefined) throw new EdgeLstmError('E_PAYLOAD', 'a model URL needs its sha256', { field: 'sha256' });
  if (req.sha256 !== undefined && !/^[0-9a-fA-F]{64}$/.test(req.sha256)) throw new EdgeLstmError('E_PAYLOAD', 'sha256 must be 64 hex digits', { field: 'sha256', found: req.sha256 });
  return req;
}

/** The signature of a reload: the message's field, else PATH.sig, else URL.sig (absent: undefined). */
async function findSignature(req: ReloadRequest): Promise<Uint8Array | string | undefined> {
  if (req.signature !== undefined) return req.signature;
  if (req.path !== undefined) return readSignatureFile(req.path);
  const url = new URL(req.url!);
  url.pathname += SIGNATURE_SUFFIX;
  const res = await fetch(url, { signal: AbortSignal.timeout(60_000) });
  if (res.status === 404) return undefined;
  if (!res.ok) throw new EdgeLstmError('E_SIGNATURE', `cannot fetch model signature: HTTP ${res.status}`, { file: url.href });
  return new Uint8Array(await res.arrayBuffer());
}

/**
 * Reads the model bytes and checks the hash, and the ed25519 signature when
 * `publicKeyPem` is given (E_SIGNATURE: unsigned or not verifying), before
 * anything is parsed.
 */
export async function fetchModelBytes(req: ReloadRequest, maxBytes = 512 * 1024 * 1024, publicKeyPem?: string): Promise<{ bytes: Uint8Array; name: string }> {
  let bytes: Uint8Array;
  let name: string;
  if (req.url !== undefined) {
    name = req.url;
    const res = await fetch(req.url, { signal: AbortSignal.timeout(60_000) });
    if (!res.ok) throw new EdgeLstmError('E_MODEL', `cannot fetch model: HTTP ${res.status}`, { file: req.url });
    const buf = new Uint8Array(await res.arrayBuffer());
    if (buf.length > maxBytes) throw new EdgeLstmError('E_MODEL', `model of ${buf.length} bytes is larger than ${maxBytes}`, { file: req.url });
    bytes = buf;
  } else {
    name = req.path!;
    try {
      bytes = await readFile(req.path!);
    } catch (e) {
      throw new EdgeLstmError('E_MODEL', `cannot read model file: ${(e as Error).message}`, { file: req.path! });
    }
  }
  if (req.sha256 !== undefined) {
    const got = createHash('sha256').update(bytes).digest('hex');
    if (got !== req.sha256.toLowerCase()) throw new EdgeLstmError('E_MODEL', 'model SHA-256 does not match', { file: name, field: 'sha256', expected: req.sha256, found: got });
  }
  if (publicKeyPem !== undefined) verifyModelSignature(bytes, await findSignature(req), publicKeyPem, name);
  return { bytes, name };
}

/** Same architecture: device states carry over. Anything else and states are reset. */
export function sameArchitecture(a: Model, b: Model): boolean {
  const da = a.dims;
  const db = b.dims;
  return (
    da.H === db.H && da.L === db.L && da.F === db.F && da.T === db.T &&
    a.metadata.features.join('\u0000') === b.metadata.features.join('\u0000') &&
    a.metadata.targets.join('\u0000') === b.metadata.targets.join('\u0000') &&
    a.metadata.normalization.mode === b.metadata.normalization.mode &&
    a.hasLogvar === b.hasLogvar
  );
}
