import t from 'tap';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { Aedes } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';
import { resolveAcquirePolicy } from '../../runtime/acquire';
import { signModelBytes } from '../../runtime/model/signature';
import { modelControlTopic, modelStatusTopic, parseModelUpdateRequest, startModelUpdateAgent, type ModelUpdateStatus } from '../../runtime/service/model-update-agent';

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
const A = Buffer.from('model A bytes');
const B = Buffer.from('model B bytes');
const C = Buffer.from('model C bytes');

t.test('parseModelUpdateRequest names the field', async (t) => {
  t.throws(() => parseModelUpdateRequest(Buffer.from('{')), /not JSON/);
  t.throws(() => parseModelUpdateRequest(Buffer.from('[]')), /JSON object/);
  t.throws(() => parseModelUpdateRequest(Buffer.from('{"sha256":"abc"}')), /sha256 must be 64 hex/);
  t.throws(() => parseModelUpdateRequest(Buffer.from(JSON.stringify({ sha256: sha(A), version: 3 }))), /version must be a non-empty string/);
  t.throws(() => parseModelUpdateRequest(Buffer.from(JSON.stringify({ sha256: sha(A), deployId: 'x'.repeat(129) }))), /deployId longer than 128/);
  t.throws(() => parseModelUpdateRequest(Buffer.from(JSON.stringify({ sha256: sha(A), extra: 1 }))), /unknown field/);
  t.throws(() => parseModelUpdateRequest(Buffer.alloc(9000, 0x20)), /more than 8192 bytes/);
  t.same(parseModelUpdateRequest(Buffer.from(JSON.stringify({ sha256: sha(A).toUpperCase() }))), { sha256: sha(A) });
});

t.test('agent: hash check, signatures, rollback from held bytes, same model is a no-op', async (t) => {
  const aedes = await Aedes.createBroker();
  const broker = createServer(aedes.handle);
  await new Promise<void>((r) => broker.listen(0, '127.0.0.1', r));
  const url = `mqtt://127.0.0.1:${(broker.address() as AddressInfo).port}`;
  const files = new Map<string, Buffer>([['/a', A], ['/b', B], ['/c', C], ['/bad', Buffer.from('not what was promised')]]);
  let downloads = 0;
  const http = createHttpServer((req, res) => {
    downloads++;
    const f = files.get(req.url ?? '');
    if (f) res.end(f);
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(http.address() as AddressInfo).port}`;
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const clients: MqttClient[] = [];
  t.teardown(async () => {
    for (const c of clients) await new Promise<void>((r) => c.end(true, {}, () => r()));
    await new Promise<void>((r) => http.close(() => r()));
    await new Promise<void>((r) => aedes.close(() => broker.close(() => r())));
  });
  const connect = async (): Promise<MqttClient> => {
    const c = mqtt.connect(url);
    clients.push(c);
    await new Promise((r) => c.once('connect', r));
    return c;
  };
  const applied: string[] = [];
  const deviceClient = await connect();
  const stop = startModelUpdateAgent({
    client: deviceClient,
    name: 'pi-01',
    current: { bytes: A, model: 'm@1' },
    // Plain http on loopback in this test; the signature is what authenticates.
    policy: resolveAcquirePolicy({ publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(), allowHttp: true }),
    async apply(bytes, req) {
      if (Buffer.from(bytes).equals(C)) throw new Error('features do not match');
      applied.push(sha(bytes));
      return { model: `m@${req.version ?? '?'}` };
    },
  });
  const ctl = await connect();
  const statuses: ModelUpdateStatus[] = [];
  ctl.on('message', (_topic, p) => statuses.push(JSON.parse(p.toString()) as ModelUpdateStatus));
  await new Promise((r) => ctl.subscribe(modelStatusTopic('pi-01'), { qos: 1 }, r));
  const request = async (req: Record<string, unknown>, deployId: string): Promise<ModelUpdateStatus> => {
    ctl.publish(modelControlTopic('pi-01'), JSON.stringify({ ...req, deployId }), { qos: 1, retain: true });
    for (let i = 0; i < 200; i++) {
      const s = statuses.find((x) => x.deployId === deployId);
      if (s) return s;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`no status for ${deployId}`);
  };
  const sig = (b: Buffer): string => signModelBytes(b, privateKey.export({ type: 'pkcs8', format: 'pem' })).toString('base64');

  for (let i = 0; i < 500 && statuses.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
  t.match(statuses[0], { state: 'ok', sha256: sha(A), model: 'm@1' }, 'the first status says what runs');

  let s = await request({ url: `${base}/b`, sha256: sha(B), version: '2' }, 'unsigned');
  t.match(s, { state: 'error', sha256: sha(A), requested: sha(B), error: /unsigned/ });
  const downloadsBeforeRefusals = downloads;
  s = await request({ url: `${base}/b`, sha256: sha(B), version: '2', signature: sig(A) }, 'tampered');
  t.match(s, { state: 'error', sha256: sha(A), error: /does not verify/ });
  t.equal(downloads, downloadsBeforeRefusals, 'unsigned and badly signed requests fetch nothing: the signature is checked first');
  s = await request({ url: `${base}/bad`, sha256: sha(B), signature: sig(B) }, 'wronghash');
  t.match(s, { state: 'error', error: /does not match its sha256/ });
  t.notMatch(JSON.stringify(s), sha(Buffer.from('not what was promised')), 'the status never carries the hash of what was fetched');
  s = await request({ url: `${base}/missing`, sha256: sha(B), signature: sig(B) }, '404');
  t.match(s, { state: 'error', error: /could not be fetched/ });
  t.notMatch(JSON.stringify(s), /HTTP|not found/i, 'nor the HTTP status (a closed port and a 404 read the same)');
  s = await request({ url: `${base}/c`, sha256: sha(C), signature: sig(C) }, 'refused');
  t.match(s, { state: 'error', sha256: sha(A), error: /does not load/, detail: /features do not match/ });
  t.same(applied, [], 'nothing refused was applied');

  s = await request({ url: `${base}/b`, sha256: sha(B), version: '2', signature: sig(B) }, 'good');
  t.match(s, { state: 'ok', sha256: sha(B), model: 'm@2' });
  const before = downloads;
  s = await request({ sha256: sha(B) }, 'same');
  t.match(s, { state: 'ok', sha256: sha(B) }, 'the running model again: ok, nothing applied');
  s = await request({ sha256: sha(A), version: '1', signature: sig(A) }, 'rollback');
  t.match(s, { state: 'ok', sha256: sha(A), model: 'm@1' }, 'back to the previous model without a URL');
  t.equal(downloads, before, 'no download for a model the device holds');
  t.same(applied, [sha(B), sha(A)]);
  ctl.publish(modelControlTopic('pi-01'), 'nonsense', { qos: 1 });
  await new Promise((r) => setTimeout(r, 100));
  t.match(statuses.at(-1), { state: 'error', sha256: sha(A), error: 'request is not valid' });
  await stop();
  t.throws(() => resolveAcquirePolicy({ publicKeyPem: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }).toString() }), /ed25519/);
});
