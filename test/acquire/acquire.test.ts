/**
 * The model acquisition module against what an attacker on the broker would
 * send: devices and FIFOs as paths, files outside the models directory,
 * symlinks out of it, http and foreign hosts, redirects, huge and endless
 * downloads, slow servers, and replies that could be used as an oracle.
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import { join } from 'node:path';
import { acquireModel, acquireUpload, AcquireError, parseModelRequest, policyWarnings, resolveAcquirePolicy, type AcquirePolicy, type ModelRequest } from '../../runtime/acquire';
import { formatSignatureFile, generateSigningKeyPair, modelSha256, signModelDigest } from '../../runtime/model/signature';

const keys = generateSigningKeyPair();
const MODEL = Buffer.from('a model: the bytes do not matter to acquisition');
const SHA = modelSha256(MODEL);
const SIG = signModelDigest(SHA, keys.privateKeyPem).toString('base64');

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<{ server: Server; base: string; hits: string[] }> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(req.url ?? '');
    handler(req, res);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, base: `http://127.0.0.1:${(server.address() as { port: number }).port}`, hits };
}

const refused = async (t: { ok(v: unknown, m: string): unknown; match(a: unknown, b: RegExp, m: string): unknown; fail(m: string): unknown }, p: Promise<unknown>, reason: RegExp, why: string): Promise<AcquireError> => {
  try {
    await p;
  } catch (e) {
    t.ok(e instanceof AcquireError, `${why}: an AcquireError`);
    t.match((e as AcquireError).reason, reason, `${why}: ${(e as AcquireError).reason} (${(e as Error).message})`);
    return e as AcquireError;
  }
  t.fail(`${why}: accepted`);
  return undefined as never;
};

t.test('requests: bounded, strict fields, never echoed', async (t) => {
  t.throws(() => parseModelRequest(Buffer.alloc(10_000, 0x20), 'control'), { code: 'E_PAYLOAD', reason: 'request is not valid' });
  try {
    parseModelRequest(Buffer.from(JSON.stringify({ path: 'x', secret: '/etc/shadow' })), 'control');
    t.fail('an unknown field accepted');
  } catch (e) {
    t.notMatch((e as Error).message, /shadow|secret/, 'the error repeats neither the unknown field nor its value');
  }
  t.throws(() => parseModelRequest(Buffer.from(JSON.stringify({ url: 'https://h/m' })), 'control'), /needs its sha256/);
  t.throws(() => parseModelRequest(Buffer.from(JSON.stringify({ url: `https://h/${'a'.repeat(3000)}`, sha256: SHA })), 'control'), /url longer than 2048/);
  t.throws(() => parseModelRequest(Buffer.from(JSON.stringify({ path: 'a', url: 'https://h/m', sha256: SHA })), 'control'), /one of path and url/);
  t.throws(() => parseModelRequest(Buffer.from(JSON.stringify({ path: 'a', signature: 'not base64!' })), 'control'), /signature is malformed/);
  t.same(parseModelRequest(Buffer.from(JSON.stringify({ path: 'm.onnx', sha256: SHA.toUpperCase(), signature: SIG })), 'control'), { path: 'm.onnx', sha256: SHA, signature: SIG });
});

t.test('the default policy: nothing changes the model without a key, unless unsigned models are explicitly allowed (and warned about)', async (t) => {
  const dir = t.testdir({ 'm.onnx': MODEL });
  const strict = resolveAcquirePolicy({ modelsDir: dir });
  t.same(policyWarnings(strict), []);
  await refused(t, acquireModel({ path: 'm.onnx' }, strict), /no public key is configured and signatures are required/, 'no key');
  const open = resolveAcquirePolicy({ modelsDir: dir, allowUnsigned: true });
  t.match(policyWarnings(open).join('\n'), /UNSIGNED MODELS ACCEPTED/);
  t.same((await acquireModel({ path: 'm.onnx' }, open)).bytes, MODEL, 'explicitly allowed: accepted');
  t.same((await acquireModel({ path: join(dir, 'x', '..', 'm.onnx') }, open)).sha256, SHA);
  await refused(t, acquireModel({ path: 'm.onnx' }, resolveAcquirePolicy({ allowUnsigned: true })), /path requests are off/, 'no models directory');
  t.throws(() => resolveAcquirePolicy({ modelsDir: join(dir, 'missing') }), { code: 'E_CONFIG', message: /models-dir/ });
});

t.test('paths: regular files inside the models directory only; devices, FIFOs, /proc and symlinks out are refused without blocking', async (t) => {
  const dir = t.testdir({ models: { 'm.onnx': MODEL, 'big.onnx': Buffer.alloc(5000) }, 'outside.onnx': MODEL });
  const models = join(dir, 'models');
  execFileSync('mkfifo', [join(models, 'fifo.onnx')]);
  symlinkSync('/dev/zero', join(models, 'zero.onnx'));
  symlinkSync(join(dir, 'outside.onnx'), join(models, 'escape.onnx'));
  symlinkSync('/proc/self/fd/1', join(models, 'stdout.onnx'));
  mkdirSync(join(models, 'sub'));
  const p = resolveAcquirePolicy({ modelsDir: models, allowUnsigned: true, maxBytes: 1024, timeoutMs: 2000 });
  for (const path of ['/dev/zero', '/proc/self/fd/1', '/etc/shadow', '/etc/passwd', join(dir, 'outside.onnx'), '../outside.onnx', 'escape.onnx', 'zero.onnx', 'stdout.onnx', 'missing.onnx']) {
    const e = await refused(t, acquireModel({ path }, p), /path requests are off or the path is not allowed/, path);
    t.notMatch(e.reason, /bytes|exist|\d/, 'the reason tells no size and no existence');
  }
  await refused(t, acquireModel({ path: 'fifo.onnx' }, p), /path is not allowed/, 'a FIFO (opened without blocking, refused by fstat)');
  await refused(t, acquireModel({ path: 'sub' }, p), /path is not allowed/, 'a directory');
  const big = await refused(t, acquireModel({ path: 'big.onnx' }, p), /too large/, 'over the byte cap, refused from fstat');
  t.match(big.message, /5000 bytes is larger than 1024/, 'the log says the size; the reason does not');
});

t.test('signatures are checked before a byte is read: beside the file (with its sha256), or in the request', async (t) => {
  const dir = t.testdir({ 'm.onnx': MODEL, 'other.onnx': Buffer.from('other') });
  const p = resolveAcquirePolicy({ modelsDir: dir, publicKeyPem: keys.publicKeyPem });
  await refused(t, acquireModel({ path: 'm.onnx' }, p), /unsigned/, 'no .sig, no signature field');
  t.same((await acquireModel({ path: 'm.onnx', sha256: SHA, signature: SIG }, p)).bytes, MODEL, 'signature in the request');
  await refused(t, acquireModel({ path: 'other.onnx', sha256: SHA, signature: SIG }, p), /does not match its sha256/, 'a signed hash, other bytes');
  await refused(t, acquireModel({ path: 'm.onnx', sha256: SHA, signature: signModelDigest(SHA, generateSigningKeyPair().privateKeyPem).toString('base64') }, p), /does not verify/, 'another key');
  writeFileSync(join(dir, 'm.onnx.sig'), formatSignatureFile(Buffer.from(SIG, 'base64'), SHA));
  t.same((await acquireModel({ path: 'm.onnx' }, p)).sha256, SHA, '.sig beside the file');
  writeFileSync(join(dir, 'other.onnx.sig'), formatSignatureFile(Buffer.from(SIG, 'base64'), SHA));
  await refused(t, acquireModel({ path: 'other.onnx' }, p), /does not match its sha256/, 'a .sig copied beside other bytes');
  const other = join(dir, 'watched.onnx');
  writeFileSync(other, Buffer.from('the operator file'));
  t.ok(await acquireModel({ path: other }, p, { trustedPath: other }), "the operator's own --model file needs no signature");
});

t.test('URLs: https only unless http is allowed, host allow-list, no redirects, byte cap while streaming, timeout; nothing fetched before the signature verifies', async (t) => {
  const { server, base, hits } = await serve((req, res) => {
    if (req.url === '/m.onnx') res.end(MODEL);
    else if (req.url === '/redirect') res.writeHead(302, { location: '/m.onnx' }).end();
    else if (req.url === '/huge') res.writeHead(200, { 'content-length': String(2 * 1024 * 1024 * 1024) }).write('x');
    else if (req.url === '/endless') {
      const pump = (): void => {
        if (res.write(Buffer.alloc(64 * 1024))) setImmediate(pump);
        else res.once('drain', pump);
      };
      res.on('error', () => undefined);
      pump();
    } else if (req.url === '/slow') setTimeout(() => res.end(MODEL), 5000).unref();
    else res.writeHead(404).end();
  });
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  const signedUrl = (path: string): ModelRequest => ({ url: `${base}${path}`, sha256: SHA, signature: SIG });
  const p: AcquirePolicy = resolveAcquirePolicy({ publicKeyPem: keys.publicKeyPem, allowHttp: true, maxBytes: 1024 * 1024, timeoutMs: 1000 });

  await refused(t, acquireModel(signedUrl('/m.onnx'), resolveAcquirePolicy({ publicKeyPem: keys.publicKeyPem })), /url is not allowed/, 'http without --allow-http-models');
  await refused(t, acquireModel({ ...signedUrl('/m.onnx'), url: `data:application/octet-stream;base64,${MODEL.toString('base64')}` }, p), /url is not allowed/, 'data: URL');
  await refused(t, acquireModel({ ...signedUrl('/m.onnx'), url: 'file:///etc/passwd' }, p), /url is not allowed/, 'file: URL');
  await refused(t, acquireModel(signedUrl('/m.onnx'), resolveAcquirePolicy({ publicKeyPem: keys.publicKeyPem, allowHttp: true, allowedHosts: ['models.example.com'] })), /url is not allowed/, 'host not in the allow-list');
  await refused(t, acquireModel({ url: `${base}/m.onnx`, sha256: SHA }, p), /unsigned/, 'unsigned');
  await refused(t, acquireModel({ url: `${base}/m.onnx`, sha256: '0'.repeat(64), signature: SIG }, p), /does not verify/, 'signature of another hash');
  t.same(hits, [], 'nothing was fetched for any refused request');

  t.same((await acquireModel(signedUrl('/m.onnx'), p)).bytes, MODEL, 'signed, allowed: fetched');
  t.same((await acquireModel(signedUrl('/m.onnx'), resolveAcquirePolicy({ publicKeyPem: keys.publicKeyPem, allowHttp: true, allowedHosts: ['127.0.0.1'] }))).sha256, SHA, 'host in the allow-list');
  const failures = [];
  for (const path of ['/redirect', '/missing', '/huge', '/endless', '/slow']) failures.push(await refused(t, acquireModel(signedUrl(path), p), /could not be fetched, is too large, or does not match/, path));
  t.equal(new Set(failures.map((e) => e.reason)).size, 1, 'a 404, a redirect, a closed port, a huge or slow answer: one and the same reason (no oracle)');
  const closed = await refused(t, acquireModel({ ...signedUrl('/m.onnx'), url: 'http://127.0.0.1:9/m.onnx' }, p), /could not be fetched/, 'closed port');
  t.equal(closed.reason, failures[0]!.reason);
  const rss = process.memoryUsage().rss;
  t.ok(rss < 1024 * 1024 * 1024, `RSS ${Math.round(rss / 1e6)} MB after an announced 2 GB and an endless download`);
});

t.test('uploads: signature first, then the body under the cap', async (t) => {
  const p = resolveAcquirePolicy({ publicKeyPem: keys.publicKeyPem, maxBytes: 100 });
  let read = 0;
  const body = (b: Buffer) => async (max: number): Promise<Buffer> => {
    read++;
    if (b.length > max) throw new Error('over the cap');
    return b;
  };
  await refused(t, acquireUpload(SHA, undefined, body(MODEL), p), /unsigned/, 'unsigned upload');
  t.equal(read, 0, 'the body of an unsigned upload is never read');
  t.same((await acquireUpload(SHA, SIG, body(MODEL), p)).bytes, MODEL);
  await refused(t, acquireUpload(SHA, SIG, body(Buffer.from('other')), p), /does not match its sha256/, 'other bytes');
});
