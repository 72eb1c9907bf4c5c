import { realpathSync } from 'node:fs';
import { isAbsolute, join, sep } from 'node:path';
import { formatWithDetails } from '../errors';
import { modelSha256, parseSignatureFile, SIGNATURE_SUFFIX, verifyModelDigest } from '../model/signature';
import { AcquireError } from './acquire-error';
import { fetchBounded } from './bounded-fetch';
import { readRegularFile } from './bounded-read';
import type { AcquirePolicy } from './policy';
import type { ModelRequest } from './request';

/** Model bytes whose SHA-256 was checked (and signature, when the policy asks for one). */
export interface VerifiedModel {
  bytes: Uint8Array;
  /** Lowercase hex SHA-256 of `bytes`. */
  sha256: string;
  /** Where they came from, for the local log only. */
  source: string;
}

export interface AcquireContext {
  /** Models the device holds (the running one, the one before): a request naming one by sha256 needs no download. */
  held?: ReadonlyMap<string, Uint8Array>;
  /**
   * The operator's own model file (the one `--model` names, watched for
   * changes): trusted like the model loaded at start, so it needs neither the
   * models directory nor a signature. Anyone who can write it changes the
   * model at the next restart anyway.
   */
  trustedPath?: string;
  /** SHA-256 of the model loaded at start: switching back to it needs no signature. */
  trustedSha256?: string;
}

/** Largest `.sig` file read. */
const MAX_SIGNATURE_FILE_BYTES = 1024;

function refusePath(message: string, file: string): AcquireError {
  return new AcquireError('E_PAYLOAD', 'path requests are off or the path is not allowed', message, { file, field: 'path' });
}

/** The real path of a requested file, when it lies inside the models directory. */
function allowedPath(path: string, p: AcquirePolicy): string {
  if (p.modelsDir === undefined) throw refusePath('path requests are off (no --models-dir)', path);
  const full = isAbsolute(path) ? path : join(p.modelsDir, path);
  let real: string;
  try {
    real = realpathSync(full);
  } catch {
    throw refusePath('no such file in the models directory', path);
  }
  if (!real.startsWith(p.modelsDir + sep)) throw refusePath('outside the models directory', path);
  return real;
}

function allowedUrl(text: string, p: AcquirePolicy): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new AcquireError('E_PAYLOAD', 'url is not allowed', 'url does not parse', { field: 'url' });
  }
  const source = url.origin + url.pathname;
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && p.allowHttp)) {
    throw new AcquireError('E_PAYLOAD', 'url is not allowed', `scheme ${url.protocol} refused (https only${p.allowHttp ? ', or http' : ''})`, { field: 'url', file: source });
  }
  const host = url.hostname.toLowerCase();
  if (p.allowedHosts.length > 0 && !p.allowedHosts.includes(host)) throw new AcquireError('E_PAYLOAD', 'url is not allowed', 'host not in --model-hosts', { field: 'url', file: source });
  return url;
}

/** A `.sig` beside an allowed file: a regular file, small, read without blocking. */
async function signatureBeside(real: string, p: AcquirePolicy): Promise<{ signature: Buffer; sha256?: string } | undefined> {
  let raw: Buffer;
  try {
    raw = await readRegularFile(real + SIGNATURE_SUFFIX, MAX_SIGNATURE_FILE_BYTES, p.timeoutMs);
  } catch {
    return undefined;
  }
  try {
    return parseSignatureFile(raw, real + SIGNATURE_SUFFIX);
  } catch (e) {
    throw new AcquireError('E_SIGNATURE', 'signature does not verify', (e as Error).message, { file: real + SIGNATURE_SUFFIX });
  }
}

/**
 * The one way a model changes at run time (control topic, fleet topic,
 * Node-RED admin upload, watched file): checks the request against the
 * policy, verifies the detached signature over the announced SHA-256 BEFORE
 * any byte of the model is read or fetched, then reads or downloads under a
 * byte cap and a timeout and compares the hash. Throws AcquireError; its
 * `reason` is all a reply may carry.
 */
export async function acquireModel(req: ModelRequest, p: AcquirePolicy, ctx: AcquireContext = {}): Promise<VerifiedModel> {
  let sha256 = req.sha256;
  let signature: string | Buffer | undefined = req.signature;
  let read: () => Promise<Buffer>;
  let source: string;
  let trusted = false;
  const held = req.path === undefined && req.url === undefined && sha256 !== undefined ? ctx.held?.get(sha256) : undefined;
  if (req.path !== undefined && req.path === ctx.trustedPath) {
    trusted = true;
    source = req.path;
    read = () => readRegularFile(req.path!, p.maxBytes, p.timeoutMs);
  } else if (req.path !== undefined) {
    const real = allowedPath(req.path, p);
    source = real;
    if (signature === undefined) {
      const side = await signatureBeside(real, p);
      if (side) {
        signature = side.signature;
        if (sha256 !== undefined && side.sha256 !== undefined && side.sha256 !== sha256) throw new AcquireError('E_SIGNATURE', 'signature does not verify', `${SIGNATURE_SUFFIX} file signs another sha256 than the request`, { file: real });
        sha256 ??= side.sha256;
      }
    }
    read = () => readRegularFile(real, p.maxBytes, p.timeoutMs);
  } else if (req.url !== undefined) {
    const url = allowedUrl(req.url, p);
    source = url.origin + url.pathname;
    read = () => fetchBounded(url, p.maxBytes, p.timeoutMs);
  } else if (held !== undefined) {
    source = `held model ${sha256!.slice(0, 12)}`;
    trusted = sha256 === ctx.trustedSha256;
    read = async () => Buffer.from(held);
  } else {
    throw new AcquireError('E_MODEL', 'the device does not hold that model', 'no url or path given and the device does not hold that model', { field: 'sha256' });
  }

  if (!trusted) authorize(sha256, signature, source, p);
  return checked(await read(), sha256, source);
}

/** The bytes, when their SHA-256 is the announced one (or none was announced). */
function checked(bytes: Uint8Array, sha256: string | undefined, source: string): VerifiedModel {
  const got = modelSha256(bytes);
  if (sha256 !== undefined && got !== sha256) {
    throw new AcquireError('E_MODEL', 'the model could not be fetched, is too large, or does not match its sha256', formatWithDetails('model SHA-256 does not match', { file: source, field: 'sha256', expected: sha256, found: got }), { file: source, field: 'sha256' });
  }
  return { bytes, sha256: got, source };
}

/**
 * The policy's verdict on an announced SHA-256 and signature, before any
 * byte is read: verified against the key, or refused as unsigned, or (with
 * no key) refused unless unsigned models were explicitly allowed.
 */
export function authorize(sha256: string | undefined, signature: string | Uint8Array | undefined, source: string, p: AcquirePolicy): void {
  if (p.publicKey !== undefined) {
    if (sha256 === undefined || signature === undefined) {
      throw new AcquireError('E_SIGNATURE', 'model is unsigned and signatures are required', formatWithDetails('model is unsigned and this device requires an ed25519 signature over its sha256', { file: source, field: sha256 === undefined ? 'sha256' : 'signature' }), { file: source });
    }
    try {
      verifyModelDigest(sha256, signature, p.publicKey, source);
    } catch (e) {
      throw new AcquireError('E_SIGNATURE', 'signature does not verify', (e as Error).message, { file: source, field: 'signature' });
    }
  } else if (!p.allowUnsigned) {
    throw new AcquireError('E_SIGNATURE', 'no public key is configured and signatures are required', 'model changes need a model public key (or, explicitly, unsigned models allowed)', { file: source });
  }
}

/**
 * An upload (the Node-RED admin endpoint): the announced SHA-256 and
 * signature are checked first, then `readBody` is given the byte cap and the
 * timeout, and the hash of what it returns is compared.
 */
export async function acquireUpload(sha256: string, signature: string | undefined, readBody: (maxBytes: number, timeoutMs: number) => Promise<Buffer>, p: AcquirePolicy, source = 'upload'): Promise<VerifiedModel> {
  const hex = sha256.toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new AcquireError('E_PAYLOAD', 'request is not valid', 'sha256 must be 64 hex digits', { field: 'sha256' });
  authorize(hex, signature, source, p);
  return checked(await readBody(p.maxBytes, p.timeoutMs), hex, source);
}
