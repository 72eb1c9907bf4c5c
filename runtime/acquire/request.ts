import { AcquireError } from './acquire-error';

/**
 * A request to change the model, as a control or fleet message carries it:
 * a file in the models directory or an https URL, the SHA-256 the bytes must
 * have, and a detached signature over that SHA-256.
 */
export interface ModelRequest {
  /** A file inside the configured models directory. */
  path?: string;
  /** An https (or, by option, http) URL. */
  url?: string;
  /** Lowercase hex SHA-256 of the model. */
  sha256?: string;
  /** Base64 ed25519 signature over `edgelstm-model-sha256:<sha256>`. */
  signature?: string;
  /** Informational: the version the sender thinks it is. */
  version?: string;
  /** Echoed in the fleet status so a deployer tells its own answer from an older one. */
  deployId?: string;
}

/** The largest control or fleet message read at all, bytes. */
export const MAX_REQUEST_BYTES = 8192;

/** Each field's longest accepted form and its shape: nothing unbounded is kept or echoed. */
const FIELDS: Record<keyof ModelRequest, { max: number; shape?: RegExp }> = {
  path: { max: 4096 },
  url: { max: 2048 },
  sha256: { max: 64, shape: /^[0-9a-fA-F]{64}$/ },
  signature: { max: 128, shape: /^[A-Za-z0-9+/]+={0,2}$/ },
  version: { max: 64, shape: /^[\x21-\x7e]+$/ },
  deployId: { max: 128, shape: /^[A-Za-z0-9._:-]+$/ },
};

function refuse(message: string, field: string): AcquireError {
  return new AcquireError('E_PAYLOAD', 'request is not valid', message, { field });
}

/**
 * Parses a control or fleet message. `fleet` requests must name a sha256
 * (the url may be left out to switch to a model the device holds); control
 * requests name exactly one of path and url. E_PAYLOAD naming the field
 * (never repeating the value) when unusable.
 */
export function parseModelRequest(payload: Uint8Array, kind: 'control' | 'fleet'): ModelRequest {
  if (payload.length > MAX_REQUEST_BYTES) throw refuse(`model request of more than ${MAX_REQUEST_BYTES} bytes`, 'payload');
  let o: unknown;
  try {
    o = JSON.parse(Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8'));
  } catch {
    throw refuse('model request is not JSON', 'payload');
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) throw refuse('model request must be a JSON object', 'payload');
  const r = o as Record<string, unknown>;
  const req: ModelRequest = {};
  for (const k of Object.keys(r)) {
    if (!Object.hasOwn(FIELDS, k)) throw refuse('model request has an unknown field', 'payload');
    const spec = FIELDS[k as keyof ModelRequest];
    const v = r[k];
    if (typeof v !== 'string' || v.length === 0) throw refuse(`${k} must be a non-empty string`, k);
    if (k === 'sha256' && !spec.shape!.test(v)) throw refuse('sha256 must be 64 hex digits', k);
    if (v.length > spec.max) throw refuse(`${k} longer than ${spec.max} characters`, k);
    if (spec.shape && !spec.shape.test(v)) throw refuse(`${k} is malformed`, k);
    req[k as keyof ModelRequest] = v;
  }
  if (req.sha256 !== undefined) req.sha256 = req.sha256.toLowerCase();
  if (req.path !== undefined && req.url !== undefined) throw refuse('give one of path and url', 'path');
  if (kind === 'control' && req.path === undefined && req.url === undefined) throw refuse('give one of path and url', 'path');
  if (kind === 'fleet' && req.sha256 === undefined) throw refuse('sha256 must be 64 hex digits', 'sha256');
  if (req.url !== undefined && req.sha256 === undefined) throw refuse('a model URL needs its sha256', 'sha256');
  return req;
}
