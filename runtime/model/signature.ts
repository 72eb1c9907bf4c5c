import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { EdgeLstmError, formatWithDetails, type ErrorDetails } from '../errors';

/**
 * Model signatures: ed25519 over the exact bytes of the model file (no
 * hashing step of our own, no canonicalization: a changed byte anywhere, the
 * metadata included, breaks the signature).
 *
 * On disk a signature sits beside its model as `MODEL.sig`: the base64 text
 * of the 64-byte signature and a newline. Readers also accept the raw 64
 * bytes. Keys are PEM: the private key PKCS#8, the public key SPKI, the
 * formats `openssl genpkey -algorithm ed25519` writes too.
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

/** Signs the model bytes; returns the raw 64-byte signature. */
export function signModelBytes(bytes: Uint8Array, privateKeyPem: string | Uint8Array): Buffer {
  return sign(null, bytes, parseEd25519Key(privateKeyPem, 'private', 'private key'));
}

/** The text of a `.sig` file: base64 and a newline. */
export function formatSignatureFile(signature: Uint8Array): string {
  return `${Buffer.from(signature).toString('base64')}\n`;
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
 * Checks a model against the configured public key before it is loaded.
 * Throws E_SIGNATURE when the model is unsigned (`signature` undefined), the
 * signature is malformed, or it does not verify (the bytes changed after
 * signing, or another key signed them); E_CONFIG when the key is not an
 * ed25519 public key. `source` (a path or URL) is named in every message.
 */
export function verifyModelSignature(bytes: Uint8Array, signature: Uint8Array | string | undefined, publicKeyPem: string | Uint8Array, source: string): void {
  const key = parseEd25519Key(publicKeyPem, 'public', 'model public key');
  const id = keyId(key);
  if (signature === undefined) {
    throw signatureError(`model is unsigned and this device requires an ed25519 signature by key ${id}`, { file: source, field: 'signature', expected: `${signaturePath(source.replace(/[?#].*$/, ''))} or a signature field`, found: 'none' });
  }
  const sig = decodeSignature(signature, source);
  if (!verify(null, bytes, key, sig)) {
    throw signatureError(`model signature does not verify against the configured public key ${id}: the model was changed after signing (tampered or corrupted), or another key signed it`, { file: source, field: 'signature' });
  }
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
