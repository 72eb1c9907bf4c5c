import t from 'tap';
import { execFileSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import mqtt from 'mqtt';
import pino from 'pino';
import type { Result } from '../../runtime/engine/sample';
import { tempDir, writeTestModel } from '../helpers/models';
import { MOSQUITTO, freePort, startMosquitto, startService, until } from './helpers';

// Real Mosquitto: MQTT 3.1.1 and 5 at QoS 0, 1 and 2; TLS with a CA, a server and a client certificate made here
// by openssl; a password from a file that must never reach the logs.
const skip = existsSync(MOSQUITTO) ? false : 'mosquitto not installed';
const dir = tempDir('edgelstm-interop-');
const modelPath = writeTestModel(dir, { normalization: { mode: 'per-device', window: 100, minStd: 1e-3 } });

/** Runs 10 readings of one device through the service; resolves with the results seen by a separate subscriber. */
async function roundTrip(brokerUrl: string, clientOpts: mqtt.IClientOptions, device: string, qos: 0 | 1 | 2): Promise<Result[]> {
  const c = await mqtt.connectAsync(brokerUrl, { clientId: `t-${device}`, ...clientOpts });
  const results: Result[] = [];
  c.on('message', (_topic, p) => results.push(JSON.parse(p.toString()) as Result));
  await c.subscribeAsync(`edgelstm/${device}/result`, { qos });
  for (let i = 0; i < 10; i++) await c.publishAsync(`sensors/${device}/telemetry`, JSON.stringify({ ts: 1000 * i, value: Math.sin(i) }), { qos });
  await until(() => results.length >= 10, 20_000, `results of ${device}`);
  await c.endAsync();
  return results;
}

t.test('MQTT 3.1.1 and 5, QoS 0/1/2 against Mosquitto', { skip }, async (t) => {
  const port = await freePort();
  const broker = await startMosquitto(dir, port, ['allow_anonymous true'], 'plain.conf');
  t.teardown(() => void broker.kill('SIGKILL'));
  for (const protocol of ['3.1.1', '5'] as const) {
    for (const qos of [0, 1, 2] as const) {
      const svc = await startService(modelPath, ['--broker', `mqtt://127.0.0.1:${port}`, '--protocol', protocol, '--qos', String(qos), '--clean-start']);
      const device = `p${protocol.replace(/\./g, '')}q${qos}`;
      const results = await roundTrip(`mqtt://127.0.0.1:${port}`, { protocolVersion: protocol === '5' ? 5 : 4 }, device, qos);
      t.same(results.map((r) => r.ts), Array.from({ length: 10 }, (_, i) => 1000 * i), `MQTT ${protocol} QoS ${qos}: one result per reading, in order`);
      await svc.stop();
    }
  }
});

t.test('TLS with client certificate and a password from a file, never logged', { skip }, async (t) => {
  const ssl = (...args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=edgelstm test CA', '-keyout', 'ca.key', '-out', 'ca.crt');
  for (const who of ['server', 'client']) {
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${who === 'server' ? '127.0.0.1' : 'edgelstm-client'}`, '-keyout', `${who}.key`, '-out', `${who}.csr`);
    writeFileSync(join(dir, `${who}.ext`), who === 'server' ? 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' : 'extendedKeyUsage=clientAuth\n');
    ssl('x509', '-req', '-in', `${who}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', `${who}.ext`, '-out', `${who}.crt`);
  }
  const secret = 'pa55-Not-In-Logs-7f3a';
  writeFileSync(join(dir, 'passwd'), '');
  execFileSync('mosquitto_passwd', ['-b', join(dir, 'passwd'), 'gateway', secret]);
  writeFileSync(join(dir, 'secret.txt'), `${secret}\n`);
  const port = await freePort();
  const broker = await startMosquitto(dir, port, [
    `cafile ${join(dir, 'ca.crt')}`, `certfile ${join(dir, 'server.crt')}`, `keyfile ${join(dir, 'server.key')}`,
    'require_certificate true', 'allow_anonymous false', `password_file ${join(dir, 'passwd')}`,
  ], 'tls.conf');
  t.teardown(() => void broker.kill('SIGKILL'));
  const url = `mqtts://127.0.0.1:${port}`;
  const tls = ['--ca', join(dir, 'ca.crt'), '--cert', join(dir, 'client.crt'), '--key', join(dir, 'client.key')];
  let logs = '';
  const sink = new Writable({ write: (chunk: Buffer, _e, cb) => ((logs += chunk.toString()), cb()) });
  const log = pino({ level: 'trace' }, sink);

  // Without the client certificate the broker refuses: the service's start fails rather than hanging silently.
  const wrongPw = join(dir, 'wrong.txt');
  writeFileSync(wrongPw, 'nope\n');
  await t.rejects(startService(modelPath, ['--broker', url, '--username', 'gateway', '--password-file', wrongPw, ...tls], log), 'a wrong password is refused');

  const svc = await startService(modelPath, ['--broker', url, '--username', 'gateway', '--password-file', join(dir, 'secret.txt'), ...tls], log);
  const clientOpts: mqtt.IClientOptions = { username: 'gateway', password: secret, ca: [require('node:fs').readFileSync(join(dir, 'ca.crt'))], cert: require('node:fs').readFileSync(join(dir, 'client.crt')), key: require('node:fs').readFileSync(join(dir, 'client.key')) };
  const results = await roundTrip(url, clientOpts, 'tls-dev', 1);
  t.equal(results.length, 10, 'readings and results over TLS with a client certificate');
  await svc.stop();
  t.match(logs, /"password":"\[redacted\]"/, 'the config is logged with the password redacted');
  t.notOk(logs.includes(secret), 'the password appears nowhere in the logs');
});
