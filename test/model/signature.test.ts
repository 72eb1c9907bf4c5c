import t from 'tap';
import { execFile } from 'node:child_process';
import { createHash, createPrivateKey, generateKeyPairSync, sign } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { EdgeLstmError } from '../../runtime/errors';
import { decodeSignature, formatSignatureFile, generateSigningKeyPair, keyId, parseEd25519Key, parseSignatureFile, signModelBytes, signModelDigest, verifyModelDigest, verifyModelSignature } from '../../runtime/model/signature';

const MODEL = readFileSync(join(__dirname, '../../models/generic/generic.onnx'));
const pair = generateSigningKeyPair();
const other = generateSigningKeyPair();

t.test('sign and verify: good, tampered, unsigned, another key, malformed', async (t) => {
  const sig = signModelBytes(MODEL, pair.privateKeyPem);
  t.equal(sig.length, 64);
  // Raw bytes, base64 text (what a .sig file holds) and the Buffer of that file all verify.
  t.doesNotThrow(() => verifyModelSignature(MODEL, sig, pair.publicKeyPem, 'm.onnx'));
  t.doesNotThrow(() => verifyModelSignature(MODEL, formatSignatureFile(sig), pair.publicKeyPem, 'm.onnx'));
  t.doesNotThrow(() => verifyModelSignature(MODEL, Buffer.from(formatSignatureFile(sig)), pair.publicKeyPem, 'm.onnx'));
  t.same(decodeSignature(formatSignatureFile(sig), 'x'), sig);

  // One flipped bit anywhere (here: in the last byte, the metadata) breaks it.
  const tampered = Buffer.from(MODEL);
  tampered[tampered.length - 1]! ^= 1;
  t.throws(() => verifyModelSignature(tampered, sig, pair.publicKeyPem, 'm.onnx'), { code: 'E_SIGNATURE', message: /^m\.onnx: signature: model signature does not verify against the configured public key [0-9a-f]{16}: the model was changed after signing/ });
  t.throws(() => verifyModelSignature(MODEL, undefined, pair.publicKeyPem, 'm.onnx'), { code: 'E_SIGNATURE', message: /m\.onnx: signature: model is unsigned and this device requires an ed25519 signature by key [0-9a-f]{16} \(expected m\.onnx\.sig/ });
  t.throws(() => verifyModelSignature(MODEL, sig, other.publicKeyPem, 'm.onnx'), { code: 'E_SIGNATURE', message: new RegExp(`key ${other.keyId}.*another key`) });
  t.throws(() => verifyModelSignature(MODEL, 'bm90IGEgc2lnbmF0dXJl', pair.publicKeyPem, 'm.onnx'), { code: 'E_SIGNATURE', message: /malformed \(expected 64 bytes of ed25519, raw or base64, found 15 bytes\)/ });
  t.throws(() => verifyModelSignature(MODEL, '%%%', pair.publicKeyPem, 'm.onnx'), { code: 'E_SIGNATURE', message: /not base64/ });
  t.throws(() => verifyModelSignature(MODEL, sig.subarray(0, 63), pair.publicKeyPem, 'm.onnx'), EdgeLstmError);
});

t.test('keys: ed25519 only, PEM, a stable key id', async (t) => {
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
  t.throws(() => verifyModelSignature(MODEL, Buffer.alloc(64), ec, 'm.onnx'), { code: 'E_CONFIG', message: /wrong key type \(expected ed25519, found ec\)/ });
  t.throws(() => verifyModelSignature(MODEL, Buffer.alloc(64), 'not a key', 'm.onnx'), { code: 'E_CONFIG', message: /not a PEM public key/ });
  // A private key is no public key, and signing with a public key is refused.
  t.throws(() => signModelBytes(MODEL, pair.publicKeyPem), { code: 'E_CONFIG' });
  t.equal(keyId(parseEd25519Key(pair.privateKeyPem, 'private', 'k')), pair.keyId);
  t.equal(keyId(parseEd25519Key(pair.publicKeyPem, 'public', 'k')), pair.keyId);
  t.not(pair.keyId, other.keyId);
});

t.test('the signature covers the SHA-256 under a domain prefix; .sig files carry the hash', async (t) => {
  const sha = createHash('sha256').update(MODEL).digest('hex');
  const sig = signModelDigest(sha, pair.privateKeyPem);
  t.same(sig, signModelBytes(MODEL, pair.privateKeyPem), 'signing the bytes is signing their SHA-256');
  t.doesNotThrow(() => verifyModelDigest(sha, sig, pair.publicKeyPem, 'm.onnx'));
  t.doesNotThrow(() => verifyModelDigest(sha.toUpperCase(), sig, pair.publicKeyPem, 'm.onnx'));
  t.throws(() => verifyModelDigest('0'.repeat(64), sig, pair.publicKeyPem, 'm.onnx'), { code: 'E_SIGNATURE', message: /does not verify/ });
  // A bare signature of the digest (no prefix) is not a model signature.
  const bare = sign(null, Buffer.from(sha, 'hex'), createPrivateKey(pair.privateKeyPem));
  t.throws(() => verifyModelDigest(sha, bare, pair.publicKeyPem, 'm.onnx'), { code: 'E_SIGNATURE' });
  t.throws(() => verifyModelDigest(sha, sign(null, MODEL, createPrivateKey(pair.privateKeyPem)), pair.publicKeyPem, 'm.onnx'), { code: 'E_SIGNATURE' }, 'a signature over the raw bytes (the old format) is refused');
  t.same(parseSignatureFile(formatSignatureFile(sig, sha), 'm.onnx.sig'), { signature: sig, sha256: sha });
  t.same(parseSignatureFile(formatSignatureFile(sig), 'm.onnx.sig'), { signature: sig });
  t.same(parseSignatureFile(sig, 'm.onnx.sig'), { signature: sig });
  t.throws(() => parseSignatureFile(`${sig.toString('base64')}\nsha1 abc\n`, 'm.onnx.sig'), { code: 'E_SIGNATURE', message: /m\.onnx\.sig/ });
  t.throws(() => parseSignatureFile('a\nb\nc\n', 'm.onnx.sig'), { code: 'E_SIGNATURE' });
});

const exec = promisify(execFile);
async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, ['dist/runtime/cli/main.js', ...argv]);
    return { code: 0, out: stdout, err: stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, out: x.stdout, err: x.stderr };
  }
}

t.test('CLI: keygen, sign, sign --verify on good, tampered and unsigned models', async (t) => {
  const dir = t.testdir();
  const keys = join(dir, 'keys');
  let r = await cli('keygen', '--out', keys);
  t.equal(r.code, 0, r.err);
  const id = /key ([0-9a-f]{16})/.exec(r.out)?.[1];
  t.ok(id, r.out);
  t.equal(statSync(join(keys, 'edgelstm-model.key.pem')).mode & 0o777, 0o600);
  r = await cli('keygen', '--out', keys);
  t.equal(r.code, 2);
  t.match(r.err, /edgelstm-model\.key\.pem exists; keep the old key or pass --force/);

  const sha = createHash('sha256').update(MODEL).digest('hex').slice(0, 12);
  const good = join(dir, 'good.onnx');
  const bad = join(dir, 'bad.onnx');
  const unsigned = join(dir, 'unsigned.onnx');
  for (const f of [good, bad, unsigned]) writeFileSync(f, MODEL);
  r = await cli('sign', good, bad, '--key', join(keys, 'edgelstm-model.key.pem'));
  t.equal(r.code, 0, r.err);
  t.match(r.out, new RegExp(`signed .*good\\.onnx \\(sha256 ${sha}\\) with key ${id} -> .*good\\.onnx\\.sig`));
  t.match(readFileSync(`${good}.sig`, 'utf8'), /^[A-Za-z0-9+/]{86}==\nsha256 [0-9a-f]{64}\n$/);
  writeFileSync(bad, Buffer.concat([MODEL.subarray(0, 100), Buffer.from([MODEL[100]! ^ 0x80]), MODEL.subarray(101)]));

  const pub = join(keys, 'edgelstm-model.pub.pem');
  r = await cli('sign', '--verify', good, '--public-key', pub);
  t.equal(r.code, 0, r.out + r.err);
  t.match(r.out, new RegExp(`^ok   .*good\\.onnx \\(sha256 ${sha}\\) signed by key ${id}`));
  r = await cli('sign', '--verify', good, bad, unsigned, '--public-key', pub);
  t.equal(r.code, 1);
  t.match(r.out, /ok {3}.*good\.onnx/);
  t.match(r.out, /FAIL .*bad\.onnx: signature: model signature does not verify/);
  t.match(r.out, /FAIL .*unsigned\.onnx: signature: model is unsigned/);

  r = await cli('sign', good);
  t.equal(r.code, 2);
  t.match(r.err, /option --key/);
  r = await cli('sign', good, '--key', pub);
  t.equal(r.code, 2);
  t.match(r.err, /option --key: not a PEM private key/);
});
