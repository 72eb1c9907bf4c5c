import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, KeyObject, sign, verify } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { EdgeLstmError, formatWithDetails, type ErrorDetails } from '../errors';

/**
 * Model signatures: a detached ed25519 signature over the statement
 * `edgelstm-model-sha256:<64 lowercase hex digits>`, the SHA-256 of the exact
 * bytes of the model file. Signing the digest (not the bytes) lets a device
 * check a request before it reads a byte of the file or fetches a URL: it
 * verifies the signature over the announced SHA-256, then streams the bytes
 * under a size cap and compares their hash. A changed byte anywhere, the
 * metadata included, changes the hash. The prefix keeps a model signature
 * from being mistaken for a signature of anything else made with the key.
 *
 * On disk a signature sits beside its model as `MODEL.sig`: the base64 text
 * of the 64-byte signature on the first line and `sha256 <hex>` on the
 * second (the announced hash, so a file can be checked before it is read).
 * Readers also accept the raw 64 bytes or the base64 line alone. Keys are
 * PEM: the private key PKCS#8, the public key SPKI, the formats
 * `openssl genpkey -algorithm ed25519` writes too; with OpenSSL a model is
 * signed by `printf 'edgelstm-model-sha256:%s' HEX | openssl pkeyutl -sign
 * -inkey key.pem -rawin | base64 -w0`.
 */

/** Suffix of the signature file beside a model. */
export const SIGNATURE_SUFFIX = '.sig';

/** Length of an ed25519 signature, bytes. */
const SIGNATURE_BYTES = 64;

/** E_SIGNATURE with the file, field, expected and found in the message. */
function signatureError(message: string, details: ErrorDetails): EdgeLstmError {
  return new EdgeLstmError('E_SIGNATURE', formatWithDetails(message, details), details);
}

/** The path of the signature of a model file. */
export function signaturePath(modelPath: string): string {
  return `${modelPath}${SIGNATURE_SUFFIX}`;
}

/** A short, stable name for a public key: the first 16 hex digits of the SHA-256 of its SPKI DER. */
export function keyId(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return createHash('sha256').update(pub.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 16);
}

/** Parses a PEM ed25519 key (public, or private when `kind` says so); E_CONFIG naming `field` otherwise. */
export function parseEd25519Key(pem: string | Uint8Array, kind: 'public' | 'private', field: string): KeyObject {
  let key: KeyObject;
  try {
    key = kind === 'public' ? createPublicKey({ key: Buffer.from(pem), format: 'pem' }) : createPrivateKey({ key: Buffer.from(pem), format: 'pem' });
  } catch (e) {
    throw new EdgeLstmError('E_CONFIG', `${field}: not a PEM ${kind} key: ${(e as Error).message}`, { field, expected: `an ed25519 ${kind} key in PEM` });
  }
  if (key.asymmetricKeyType !== 'ed25519') {
    throw new EdgeLstmError('E_CONFIG', `${field}: wrong key type (expected ed25519, found ${key.asymmetricKeyType ?? 'unknown'})`, { field, expected: 'ed25519', found: key.asymmetricKeyType ?? 'unknown' });
  }
  return key;
}

/** A fresh key pair, both halves PEM. */
export function generateSigningKeyPair(): { publicKeyPem: string; privateKeyPem: string; keyId: string } {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return {
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    keyId: keyId(publicKey),
  };
}

/** What is signed: the domain prefix and the lowercase hex SHA-256 of the model. */
export const SIGNED_STATEMENT_PREFIX = 'edgelstm-model-sha256:';

const HEX64 = /^[0-9a-f]{64}$/;

/** Lowercase hex SHA-256 of model bytes. */
export function modelSha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function statement(sha256: string): Buffer {
  const hex = sha256.toLowerCase();
  if (!HEX64.test(hex)) throw new EdgeLstmError('E_SIGNATURE', 'sha256 must be 64 hex digits', { field: 'sha256', expected: '64 hex digits' });
  return Buffer.from(`${SIGNED_STATEMENT_PREFIX}${hex}`, 'latin1');
}

/** Signs the SHA-256 of a model (hex); returns the raw 64-byte signature. */
export function signModelDigest(sha256: string, privateKeyPem: string | Uint8Array): Buffer {
  return sign(null, statement(sha256), parseEd25519Key(privateKeyPem, 'private', 'private key'));
}

/** Signs the model bytes (their SHA-256, see above); returns the raw 64-byte signature. */
export function signModelBytes(bytes: Uint8Array, privateKeyPem: string | Uint8Array): Buffer {
  return signModelDigest(modelSha256(bytes), privateKeyPem);
}

/** The text of a `.sig` file: base64 and a newline, then `sha256 <hex>` when the hash is given. */
export function formatSignatureFile(signature: Uint8Array, sha256?: string): string {
  return `${Buffer.from(signature).toString('base64')}\n${sha256 !== undefined ? `sha256 ${sha256.toLowerCase()}\n` : ''}`;
}

/** A `.sig` file: the signature and, in the current format, the SHA-256 it signs. */
export interface SignatureFile {
  signature: Buffer;
  sha256?: string;
}

/** Parses what a `.sig` file holds (see above); E_SIGNATURE naming `source` when malformed. */
export function parseSignatureFile(content: Uint8Array | string, source: string): SignatureFile {
  if (typeof content !== 'string' && content.length === SIGNATURE_BYTES) return { signature: Buffer.from(content) };
  const lines = (typeof content === 'string' ? content : Buffer.from(content).toString('latin1')).split(/\r?\n/).map((l) => l.trim()).filter((l) => l.length > 0);
  if (lines.length === 0 || lines.length > 2) {
    throw signatureError('signature file is malformed', { file: source, field: 'signature', expected: 'a base64 line and optionally "sha256 <hex>"', found: `${lines.length} lines` });
  }
  const signature = decodeSignature(lines[0]!, source);
  if (lines.length === 1) return { signature };
  const m = /^sha256 ([0-9a-fA-F]{64})$/.exec(lines[1]!);
  if (!m) throw signatureError('signature file is malformed', { file: source, field: 'sha256', expected: '"sha256 " and 64 hex digits', found: 'another line' });
  return { signature, sha256: m[1]!.toLowerCase() };
}

/**
 * The 64 signature bytes from what a `.sig` file (or a message field) holds:
 * the raw bytes or their base64 text. E_SIGNATURE naming `source` when it is neither.
 */
export function decodeSignature(content: Uint8Array | string, source: string): Buffer {
  if (typeof content !== 'string' && content.length === SIGNATURE_BYTES) return Buffer.from(content);
  const text = (typeof content === 'string' ? content : Buffer.from(content).toString('latin1')).trim();
  const raw = /^[A-Za-z0-9+/]+={0,2}$/.test(text) ? Buffer.from(text, 'base64') : undefined;
  if (raw === undefined || raw.length !== SIGNATURE_BYTES) {
    throw signatureError('signature is malformed', { file: source, field: 'signature', expected: `${SIGNATURE_BYTES} bytes of ed25519, raw or base64`, found: raw ? `${raw.length} bytes` : `${text.length} characters that are not base64` });
  }
  return raw;
}

/**
 * Checks an announced SHA-256 against the configured public key, before any
 * byte of the model is read. Throws E_SIGNATURE when the request is unsigned
 * (`signature` undefined), the signature is malformed, or it does not verify
 * (another hash than the one signed, or another key signed it); E_CONFIG when
 * the key is not an ed25519 public key. `source` (a path or URL) is named in
 * every message.
 */
export function verifyModelDigest(sha256: string, signature: Uint8Array | string | undefined, publicKeyPem: string | Uint8Array | KeyObject, source: string): void {
  const key = publicKeyPem instanceof KeyObject ? publicKeyPem : parseEd25519Key(publicKeyPem, 'public', 'model public key');
  const id = keyId(key);
  if (signature === undefined) {
    throw signatureError(`model is unsigned and this device requires an ed25519 signature by key ${id}`, { file: source, field: 'signature', expected: `${signaturePath(source.replace(/[?#].*$/, ''))} or a signature field`, found: 'none' });
  }
  const sig = decodeSignature(signature, source);
  if (!verify(null, statement(sha256), key, sig)) {
    throw signatureError(`model signature does not verify against the configured public key ${id}: the model was changed after signing (tampered or corrupted), or another key signed it`, { file: source, field: 'signature' });
  }
}

/** `verifyModelDigest` over the SHA-256 of `bytes`. */
export function verifyModelSignature(bytes: Uint8Array, signature: Uint8Array | string | undefined, publicKeyPem: string | Uint8Array | KeyObject, source: string): void {
  verifyModelDigest(modelSha256(bytes), signature, publicKeyPem, source);
}

/** Reads `MODEL.sig` beside a model file; undefined when there is none. */
export async function readSignatureFile(modelPath: string): Promise<Buffer | undefined> {
  try {
    return await readFile(signaturePath(modelPath));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw signatureError(`cannot read signature file: ${(e as Error).message}`, { file: signaturePath(modelPath) });
  }
}
