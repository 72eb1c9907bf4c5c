/**
 * Model updates of a running service: signed models only when a public key
 * is configured (local control topic and fleet topic alike), and hot reload
 * when the model file is replaced.
 */
import t from 'tap';
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { copyFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import type { Result } from '../../runtime/engine/sample';
import { encodeMetadata } from '../../runtime/model/metadata';
import { formatSignatureFile, generateSigningKeyPair, signModelBytes } from '../../runtime/model/signature';
import { buildLstmModel } from '../../runtime/onnx/lstm-graph';
import { randomWeights } from '../../runtime/contract/weights';
import { testMetadata } from '../helpers/models';
import { tempDir } from '../helpers/models';
import { client, collect, startService, until } from './helpers';

const dir = tempDir('edgelstm-update-');
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
/** A model whose id is test@<version>: same architecture, other weights. */
function model(version: string, seed: number): Buffer {
  const w = randomWeights(1, 8, 1, 1, seed, false);
  return Buffer.from(buildLstmModel(w, { metadata: encodeMetadata({ ...testMetadata({}, w), version }) }));
}
const A = model('1.0.0', 1);
const B = model('2.0.0', 2);
const pathA = join(dir, 'a.onnx');
const pathB = join(dir, 'b.onnx');
writeFileSync(pathA, A);
writeFileSync(pathB, B);
const keys = generateSigningKeyPair();
const pubFile = join(dir, 'models.pub.pem');
writeFileSync(pubFile, keys.publicKeyPem);
const sigB = signModelBytes(B, keys.privateKeyPem).toString('base64');

async function serveBytes(files: Record<string, Uint8Array>): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const body = files[req.url ?? ''];
    if (!body) {
      res.statusCode = 404;
      res.end();
      return;
    }
    res.end(body);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}` };
}

let ts = 1_700_000_000_000;
async function reading(c: MqttClient, results: unknown[], device = 'p1'): Promise<Result> {
  const n = results.length;
  await c.publishAsync(`sensors/${device}/telemetry`, JSON.stringify({ ts: (ts += 1000), value: Math.sin(ts / 5e3) }), { qos: 1 });
  await until(() => results.length > n, 10_000, 'a result');
  return results[results.length - 1] as Result;
}

t.test('a service with --model-public-key refuses unsigned and tampered models on the control topic and on its fleet topic, keeps its model, accepts a signed one', async (t) => {
  const { server, url } = await serveBytes({ '/b.onnx': B, '/a.onnx': A });
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  const svc = await startService(pathA, ['--model-public-key', pubFile, '--name', 'gw-1', '--control', '--models-dir', dir, '--allow-http-models']);
  t.teardown(() => svc.stop());
  const c = await client(svc.brokerUrl);
  t.teardown(() => c.endAsync());
  const results = await collect(c, 'edgelstm/+/result');
  const local = (await collect(c, 'edgelstm/control/model/status')) as { ok: boolean; error?: string; model: string }[];
  const fleet = (await collect(c, 'edgelstm/gw-1/status/model')) as { state: string; sha256: string; model: string; error?: string; deployId?: string }[];
  await until(() => fleet.length > 0, 10_000, 'the retained fleet status');
  t.same([fleet[0]!.state, fleet[0]!.sha256, fleet[0]!.model], ['ok', sha(A), 'test@1.0.0'], 'the fleet status says what runs');
  t.equal((await reading(c, results)).model, 'test@1.0.0');

  // Local control topic: unsigned (no .sig beside the file, no signature field), then a signature of other bytes.
  await c.publishAsync('edgelstm/control/model', JSON.stringify({ path: pathB }), { qos: 1 });
  await until(() => local.length >= 1, 10_000, 'local status');
  t.equal(local[0]!.ok, false);
  t.match(local[0]!.error, /unsigned/, `refused: ${local[0]!.error}`);
  await c.publishAsync('edgelstm/control/model', JSON.stringify({ path: pathB, signature: signModelBytes(A, keys.privateKeyPem).toString('base64') }), { qos: 1 });
  await until(() => local.length >= 2, 10_000, 'local status');
  t.equal(local[1]!.ok, false);
  t.match(local[1]!.error, /signature/, `tampered refused: ${local[1]!.error}`);
  t.equal(svc.engine.model.id, 'test@1.0.0', 'the old model runs');

  // Fleet topic (what `edgelstm deploy` publishes): a URL and its SHA-256, unsigned, then signed.
  const ask = async (req: Record<string, string>): Promise<(typeof fleet)[number]> => {
    const n = fleet.length;
    await c.publishAsync('edgelstm/gw-1/control/model', JSON.stringify(req), { qos: 1, retain: true });
    await until(() => fleet.slice(n).some((s) => s.deployId === req['deployId']), 10_000, 'fleet status');
    return fleet.slice(n).find((s) => s.deployId === req['deployId'])!;
  };
  const unsigned = await ask({ url: `${url}/b.onnx`, sha256: sha(B), deployId: 'd1' });
  t.same([unsigned.state, unsigned.sha256], ['error', sha(A)], 'unsigned refused, still on A');
  t.match(unsigned.error, /unsigned/);
  const tampered = await ask({ url: `${url}/b.onnx`, sha256: sha(B), signature: signModelBytes(A, keys.privateKeyPem).toString('base64'), deployId: 'd2' });
  t.same([tampered.state, tampered.sha256], ['error', sha(A)], 'bad signature refused');
  t.equal((await reading(c, results)).model, 'test@1.0.0', 'results still from the old model');
  const signed = await ask({ url: `${url}/b.onnx`, sha256: sha(B), signature: sigB, deployId: 'd3' });
  t.same([signed.state, signed.sha256, signed.model], ['ok', sha(B), 'test@2.0.0'], 'signed model accepted');
  t.equal((await reading(c, results)).model, 'test@2.0.0', 'results carry the new model id');

  // Local control topic with the signature beside the file: accepted, and the fleet status follows.
  writeFileSync(`${pathA}.sig`, formatSignatureFile(signModelBytes(A, keys.privateKeyPem), sha(A)));
  const n = fleet.length;
  await c.publishAsync('edgelstm/control/model', JSON.stringify({ path: pathA }), { qos: 1 });
  await until(() => local.length >= 3, 10_000, 'local status');
  t.equal(local[2]!.ok, true, 'signed by its .sig file (signature and sha256): accepted');
  await until(() => fleet.length > n, 10_000, 'fleet status after the local reload');
  t.same([fleet[fleet.length - 1]!.sha256, fleet[fleet.length - 1]!.model], [sha(A), 'test@1.0.0'], 'the fleet status reports the model now running');
  t.equal((await reading(c, results)).model, 'test@1.0.0');
});

t.test('--model-public-key and --name are validated before anything starts', async (t) => {
  const notKey = join(dir, 'not-a-key.pem');
  writeFileSync(notKey, 'hello');
  await t.rejects(startService(pathA, ['--model-public-key', notKey]), { code: 'E_CONFIG', message: /--model-public-key: expected a PEM ed25519 public key/ });
  await t.rejects(startService(pathA, ['--model-public-key', join(dir, 'missing.pem')]), { code: 'E_CONFIG', message: /--model-public-key: expected a readable file/ });
  await t.rejects(startService(pathA, ['--name', 'a/b']), { code: 'E_CONFIG', message: /--name/ });
});

t.test('--watch-model: the file replaced atomically is swapped in between batches; a broken file is refused and the old model kept', async (t) => {
  const watched = join(dir, 'watched.onnx');
  copyFileSync(pathA, watched);
  const svc = await startService(watched, ['--watch-model', '--max-delay-ms', '2']);
  t.teardown(() => svc.stop());
  const c = await client(svc.brokerUrl);
  t.teardown(() => c.endAsync());
  const results = (await collect(c, 'edgelstm/+/result')) as Result[];
  const status = (await collect(c, 'edgelstm/control/model/status')) as { ok: boolean; model: string; error?: string }[];
  t.equal((await reading(c, results)).model, 'test@1.0.0');

  // Readings stream in while the file is replaced (write beside, rename over: what deployment tools do).
  let sent = 0;
  let streaming = true;
  const stream = (async () => {
    while (streaming) {
      await c.publishAsync('sensors/s1/telemetry', JSON.stringify({ ts: 1_790_000_000_000 + sent * 1000, value: Math.sin(sent / 3) }), { qos: 1 });
      sent++;
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  writeFileSync(`${watched}.tmp`, B);
  renameSync(`${watched}.tmp`, watched);
  await until(() => status.length >= 1, 15_000, 'the reload status');
  t.same([status[0]!.ok, status[0]!.model], [true, 'test@2.0.0'], 'new model in service');
  await new Promise((r) => setTimeout(r, 100));
  streaming = false;
  await stream;
  await until(() => results.filter((r) => r.device === 's1').length === sent, 10_000, 'a result per streamed reading');
  const ids = results.filter((r) => r.device === 's1').sort((a, b) => a.ts - b.ts).map((r) => r.model);
  const firstNew = ids.indexOf('test@2.0.0');
  t.ok(firstNew > 0 && ids.slice(0, firstNew).every((m) => m === 'test@1.0.0') && ids.slice(firstNew).every((m) => m === 'test@2.0.0'), `one result per reading; old model, then the new one from a batch boundary on (${firstNew} old, ${ids.length - firstNew} new)`);

  // A broken file: refused, the running model kept.
  writeFileSync(`${watched}.tmp`, Buffer.from('this is not an onnx model'));
  renameSync(`${watched}.tmp`, watched);
  await until(() => status.length >= 2, 15_000, 'the failed reload status');
  t.equal(status[1]!.ok, false);
  t.match(status[1]!.error, /ONNX|model/i, `refused: ${status[1]!.error}`);
  t.equal((await reading(c, results)).model, 'test@2.0.0', 'the old (second) model keeps answering');
});
