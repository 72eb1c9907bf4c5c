import t from 'tap';
import { execFile } from 'node:child_process';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { once } from 'node:events';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { EdgeLstmError } from '../../runtime/errors';
import { decodeSignature, formatSignatureFile, generateSigningKeyPair, keyId, parseEd25519Key, signModelBytes, verifyModelSignature } from '../../runtime/model/signature';
import { fetchModelBytes, parseReloadRequest } from '../../runtime/service/reload';

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

t.test('service reload: PATH.sig, URL.sig, the message field; refused without a valid signature', async (t) => {
  const dir = t.testdir();
  const path = join(dir, 'm.onnx');
  writeFileSync(path, MODEL);
  const key = pair.publicKeyPem;
  // No key configured: signatures are not looked at.
  t.ok((await fetchModelBytes({ path })).bytes.length > 0);
  await t.rejects(fetchModelBytes({ path }, undefined, key), { code: 'E_SIGNATURE', message: /unsigned/ });
  writeFileSync(`${path}.sig`, formatSignatureFile(signModelBytes(MODEL, pair.privateKeyPem)));
  t.same((await fetchModelBytes({ path }, undefined, key)).bytes, MODEL);
  writeFileSync(path, Buffer.concat([MODEL, Buffer.from([0])]));
  await t.rejects(fetchModelBytes({ path }, undefined, key), { code: 'E_SIGNATURE', message: /does not verify/ });
  writeFileSync(path, MODEL);

  const sigB64 = signModelBytes(MODEL, pair.privateKeyPem).toString('base64');
  t.same(parseReloadRequest(Buffer.from(JSON.stringify({ path, signature: sigB64 }))), { path, signature: sigB64 });
  t.ok(await fetchModelBytes({ path: join(dir, 'm.onnx'), signature: sigB64 }, undefined, key));

  let serveSig = true;
  const server = createServer((req, res) => {
    if (req.url === '/m.onnx') res.end(MODEL);
    else if (req.url === '/m.onnx.sig' && serveSig) res.end(formatSignatureFile(signModelBytes(MODEL, pair.privateKeyPem)));
    else res.writeHead(404).end();
  }).listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => server.close());
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/m.onnx`;
  const sha256 = createHash('sha256').update(MODEL).digest('hex');
  t.same((await fetchModelBytes({ url, sha256 }, undefined, key)).bytes, MODEL);
  await t.rejects(fetchModelBytes({ url, sha256 }, undefined, other.publicKeyPem), { code: 'E_SIGNATURE', message: new RegExp(`^${url.replace(/[.?/]/g, '\\$&')}: signature: model signature does not verify`) });
  serveSig = false;
  await t.rejects(fetchModelBytes({ url, sha256 }, undefined, key), { code: 'E_SIGNATURE', message: /unsigned.*expected http:.*m\.onnx\.sig/ });
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
  t.match(readFileSync(`${good}.sig`, 'utf8'), /^[A-Za-z0-9+/]{86}==\n$/);
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
