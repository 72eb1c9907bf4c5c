/**
 * Issue 14, defects 1, 4, 7 and 8, reproduced as the probe did: a real Mosquitto, the service as a user runs
 * it (`edgelstm run`, its own process), hostile model requests on the control and fleet topics. Each must be
 * refused without harm: memory bounded, the service answering readings, later requests answered, snapshots
 * going on, SIGTERM within its deadline, and replies that tell an attacker nothing (no "fetch failed" against
 * "HTTP 404", no hash of what a URL returned, no file size).
 */
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { once } from 'node:events';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { modelSha256, signModelDigest, generateSigningKeyPair } from '../../runtime/model/signature';
import { tempDir, writeTestModel } from '../helpers/models';
import { freePort, until } from '../service/helpers';
import { listener, mosquitto, noMosquitto, runService, type Broker, type ServiceProcess } from './harness';

t.setTimeout(240_000);
const dir = tempDir('edgelstm-sec-control-');
const modelPath = writeTestModel(dir);
const other = writeTestModel(dir, { seed: 7 }, 'other.onnx');
const models = join(dir, 'models');
mkdirSync(models);
copyFileSync(other, join(models, 'good.onnx'));
symlinkSync('/dev/zero', join(models, 'zero-link.onnx'));
symlinkSync('/proc/self/fd/1', join(models, 'stdout-link.onnx'));
execFileSync('mkfifo', [join(models, 'pipe.onnx')]);
/** A character device inside the models directory (root only): only the file type can refuse it. */
let zeroDevice: string | undefined = join(models, 'zero-device.onnx');
try {
  execFileSync('mknod', [zeroDevice, 'c', '1', '5'], { stdio: 'ignore' });
} catch {
  zeroDevice = undefined;
}

const CONTROL = 'edgelstm/control/model';
const STATUS = `${CONTROL}/status`;
/** Far below the gigabytes the probe saw (10.4 GB from /dev/zero, 6.2 GB from a 2 GB download). */
const RSS_BOUND = 400e6;

async function start(broker: Broker, args: string[]): Promise<ServiceProcess> {
  const s = runService(modelPath, ['--broker', broker.url, '--reconnect-min-ms', '100', '--reconnect-max-ms', '500', ...args]);
  await until(() => s.log().includes('"subscribed"') || s.p.exitCode !== null, 60_000, 'service subscribed');
  return s;
}

/** Publishes a control request and waits for its status reply. */
async function request(c: MqttClient, got: [string, Record<string, unknown>][], body: unknown, topic = CONTROL, statusTopic = STATUS): Promise<Record<string, unknown>> {
  const before = got.filter(([tp]) => tp === statusTopic).length;
  await c.publishAsync(topic, JSON.stringify(body), { qos: 1 });
  await until(() => got.filter(([tp]) => tp === statusTopic).length > before, 60_000, `a status for ${JSON.stringify(body).slice(0, 80)}`);
  return got.filter(([tp]) => tp === statusTopic)[before]![1];
}

/** A reading in, its result out: the service still answers. */
async function answers(c: MqttClient, got: [string, Record<string, unknown>][], device: string): Promise<boolean> {
  await c.publishAsync(`sensors/${device}/telemetry`, JSON.stringify({ value: 1, ts: Date.now() }), { qos: 1 });
  await until(() => got.some(([tp]) => tp === `edgelstm/${device}/result`), 60_000, `a result for ${device}`);
  return true;
}

t.test('defect 1: a retained {"path":"/dev/zero"} is refused at once, every start; memory stays bounded, readings answered', { skip: noMosquitto }, async (t) => {
  const broker = await mosquitto(dir);
  t.teardown(() => broker.stop());
  const { c, got } = await listener(broker.url, [STATUS, 'edgelstm/+/result']);
  t.teardown(() => c.endAsync());
  // The worst case the probe found: retained, so every restart reads it again; unsigned models allowed.
  await c.publishAsync(CONTROL, JSON.stringify({ path: '/dev/zero' }), { qos: 1, retain: true });
  const args = ['--control', '--models-dir', models, '--allow-unsigned-models', '--state-file', join(dir, 'd1.bin')];
  for (const round of ['first start', 'restart with the message still retained']) {
    got.length = 0;
    const s = await start(broker, args);
    await until(() => got.some(([tp]) => tp === STATUS), 60_000, 'the refusal');
    const status = got.find(([tp]) => tp === STATUS)![1];
    t.same([status['ok'], status['error']], [false, 'path requests are off or the path is not allowed'], `${round}: refused`);
    t.ok(await answers(c, got, `d1-${round.length}`), `${round}: readings still answered`);
    const more: [string, unknown][] = [['a symlink to /dev/zero in the models directory', { path: 'zero-link.onnx' }]];
    if (zeroDevice) more.push(['a character device in the models directory', { path: 'zero-device.onnx' }]);
    for (const [what, body] of more) t.equal((await request(c, got, body))['ok'], false, `${round}: ${what} refused`);
    t.ok(s.peakRss() < RSS_BOUND, `${round}: peak RSS ${Math.round(s.peakRss() / 1e6)} MB`);
    const stop = await s.stop();
    t.equal(stop.code, 0, `${round}: SIGTERM exits 0 (in ${stop.ms} ms)`);
  }
  await c.publishAsync(CONTROL, '', { qos: 1, retain: true });

  // With a key: a path request without a signature is refused before the file is opened, whatever it names.
  const keys = generateSigningKeyPair();
  const pub = join(dir, 'model.pub');
  execFileSync('sh', ['-c', `cat > ${pub}`], { input: keys.publicKeyPem });
  const s = await start(broker, ['--control', '--models-dir', models, '--model-public-key', pub]);
  t.teardown(() => s.p.kill('SIGKILL'));
  t.equal((await request(c, got, { path: '/dev/zero' }))['ok'], false, 'with a key: /dev/zero refused');
  t.same((await request(c, got, { path: 'good.onnx' }))['error'], 'model is unsigned and signatures are required', 'with a key: an unsigned request for a file in the directory refused as unsigned');
  if (zeroDevice) {
    t.same((await request(c, got, { path: 'zero-device.onnx' }))['error'], 'model is unsigned and signatures are required', 'with a key: the device is refused for its missing signature, before it is opened');
    const fake = modelSha256(Buffer.from('anything'));
    const sig = signModelDigest(fake, keys.privateKeyPem).toString('base64');
    t.equal((await request(c, got, { path: 'zero-device.onnx', sha256: fake, signature: sig }))['ok'], false, 'with a key: a signed request naming a device is still refused (not a regular file)');
  }
  t.ok(s.peakRss() < RSS_BOUND, `with a key: peak RSS ${Math.round(s.peakRss() / 1e6)} MB`);
  t.equal((await s.stop()).code, 0);
});

t.test('defect 4: a FIFO or a pipe as the model never blocks: refused, later requests answered, snapshots go on, SIGTERM in time', { skip: noMosquitto }, async (t) => {
  const broker = await mosquitto(dir);
  t.teardown(() => broker.stop());
  const { c, got } = await listener(broker.url, [STATUS, 'edgelstm/+/result']);
  t.teardown(() => c.endAsync());
  const state = join(dir, 'd4.bin');
  // stdout of the service is a pipe here, as under Docker or systemd: the probe's /proc/self/fd/1.
  const s = await start(broker, ['--control', '--models-dir', models, '--allow-unsigned-models', '--state-file', state, '--snapshot-interval-s', '1', '--stop-timeout-s', '5']);
  t.teardown(() => s.p.kill('SIGKILL'));
  for (const path of ['pipe.onnx', join(models, 'pipe.onnx'), 'stdout-link.onnx', '/proc/self/fd/1']) {
    const status = await request(c, got, { path });
    t.same([status['ok'], status['error']], [false, 'path requests are off or the path is not allowed'], `${path}: refused`);
  }
  t.ok(await answers(c, got, 'd4'), 'readings answered');
  const good = await request(c, got, { path: 'good.onnx' });
  t.equal(good['ok'], true, 'a later, valid request is answered (and applied)');
  t.equal(good['sha256'], modelSha256(readFileSync(other)), 'the model now running is the one named');
  const mtime = statSync(state).mtimeMs;
  await until(() => statSync(state).mtimeMs > mtime, 30_000, 'a periodic snapshot after the refusals');
  t.pass('periodic snapshots go on');
  const stop = await s.stop();
  t.equal(stop.code, 0, `SIGTERM exits 0 in ${stop.ms} ms`);
  t.ok(stop.ms < 5000 + 2000, 'within --stop-timeout-s (5 s) and the process backstop');
});

t.test('defects 7 and 8: URL requests are no oracle (closed port, 404, wrong hash, internal page all read the same), and downloads are capped while streaming', { skip: noMosquitto }, async (t) => {
  const broker = await mosquitto(dir);
  t.teardown(() => broker.stop());
  const page = Buffer.from('<html>internal admin page</html>');
  const pageSha = modelSha256(page);
  let streamed = 0;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.url === '/page') return res.end(page);
    if (req.url === '/huge' || req.url === '/endless') {
      // 2 GB announced, or no length at all: bytes as fast as the socket takes them, until the client hangs up.
      res.writeHead(200, req.url === '/huge' ? { 'content-length': String(2 ** 31) } : {});
      const chunk = Buffer.alloc(1 << 20, 7);
      const pump = (): void => {
        while (!res.destroyed && streamed < 2 ** 31) {
          streamed += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
      };
      res.on('close', () => undefined);
      return pump();
    }
    res.statusCode = 404;
    res.end('not here');
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.teardown(() => server.close());
  server.on('connection', (sock) => t.teardown(() => sock.destroy()));
  const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const closed = `http://127.0.0.1:${await freePort()}`;
  const name = `sec-${Math.random().toString(36).slice(2, 8)}`;
  const fleet = `edgelstm/${name}/control/model`;
  const fleetStatus = `edgelstm/${name}/status/model`;
  const { c, got } = await listener(broker.url, [STATUS, fleetStatus, 'edgelstm/+/result']);
  t.teardown(() => c.endAsync());
  const s = await start(broker, ['--control', '--name', name, '--models-dir', models, '--allow-unsigned-models', '--allow-http-models', '--max-model-bytes', String(1 << 20), '--model-fetch-timeout-s', '20']);
  t.teardown(() => s.p.kill('SIGKILL'));
  const sha = modelSha256(Buffer.from('what the sender announces'));

  const replies: Record<string, Record<string, unknown>> = {};
  for (const [what, url] of [['closed port', `${closed}/m.onnx`], ['open port, 404', `${base}/m.onnx`], ['internal page, wrong hash', `${base}/page`]] as const) {
    replies[what] = await request(c, got, { url, sha256: sha });
  }
  const bodies = Object.values(replies).map((r) => JSON.stringify({ ...r, ts: 0 }));
  t.equal(new Set(bodies).size, 1, `one reply for all three: ${bodies[0]}`);
  for (const b of bodies) {
    t.notMatch(b, /fetch failed|ECONNREFUSED|404|HTTP|found|bytes/i, 'nothing about the connection, the status or the body');
    t.notOk(b.includes(pageSha), 'no hash of what was fetched');
  }

  // The fleet topic: its retained status must not carry the hash of an internal page either.
  await c.publishAsync(fleet, JSON.stringify({ url: `${base}/page`, sha256: sha }), { qos: 1, retain: true });
  await until(() => got.some(([tp, m]) => tp === fleetStatus && m['requested'] === sha), 60_000, 'the fleet status');
  const fs = JSON.stringify(got.filter(([tp, m]) => tp === fleetStatus && m['requested'] === sha).pop()![1]);
  t.notOk(fs.includes(pageSha), `fleet status without the page's hash: ${fs}`);
  t.notMatch(fs, /found|HTTP|404/i, 'nor how the fetch went');
  await c.publishAsync(fleet, '', { qos: 1, retain: true });

  // Paths: an existing file outside the models directory reads the same as a missing one; no size anywhere.
  const shadow = await request(c, got, { path: '/etc/passwd' });
  const missing = await request(c, got, { path: '/etc/no-such-file-here' });
  t.same({ ...shadow, ts: 0 }, { ...missing, ts: 0 }, 'existence outside the models directory is not told');
  const wrong = await request(c, got, { path: 'good.onnx', sha256: sha });
  t.notMatch(JSON.stringify(wrong), /bytes|found|\d{4,} /, `a wrong hash in the directory: no size, no hash found (${JSON.stringify(wrong)})`);
  t.notOk(JSON.stringify(wrong).includes(modelSha256(readFileSync(other))), 'nor the hash of the file');

  // Defect 8: 2 GB announced, then an endless stream: cut at --max-model-bytes (1 MiB) while streaming.
  for (const path of ['/huge', '/endless']) {
    streamed = 0;
    const r = await request(c, got, { url: `${base}${path}`, sha256: sha });
    t.same([r['ok'], r['error']], [false, 'the model could not be fetched, is too large, or does not match its sha256'], `${path}: refused`);
    t.ok(streamed < 2 ** 31, `${path}: the download was cut (${Math.round(streamed / 1e6)} MB sent by the server of 2,147 MB)`);
  }
  t.ok(s.peakRss() < RSS_BOUND, `peak RSS ${Math.round(s.peakRss() / 1e6)} MB`);
  t.ok(await answers(c, got, 'd8'), 'readings still answered');
  t.equal((await s.stop()).code, 0, 'SIGTERM exits 0');
});
