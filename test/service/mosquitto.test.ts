import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { Engine } from '../../runtime/engine/engine';
import { loadModel } from '../../runtime/model/load-model';
import type { Result } from '../../runtime/engine/sample';
import { tempDir, writeTestModel } from '../helpers/models';
import { until } from './helpers';
import { freePort } from '../../runtime/net/free-port';

// Against a real Mosquitto (Debian's package; .ci/run installs it) on a free port, the service as its own process.
t.setTimeout(90_000);
const MOSQUITTO = '/usr/sbin/mosquitto';
const dir = tempDir('edgelstm-mosq-');
const modelPath = writeTestModel(dir, { normalization: { mode: 'per-device', window: 100, minStd: 1e-3 } });
const DEVICES = 5;
const value = (d: number, i: number): number => Math.sin(i / 4 + d) * 5 + 10;
const TS0 = 1_700_000_000_000;


function startBroker(port: number): ChildProcess {
  const conf = join(dir, 'mosquitto.conf');
  // Persistence so that a broker restart keeps the service's session and its queued readings.
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\nuser root\npersistence true\npersistence_location ${dir}/\nmax_inflight_messages 1000\nmax_queued_messages 100000\n`);
  return spawn(MOSQUITTO, ['-c', conf], { stdio: 'ignore' });
}

async function stopBroker(b: ChildProcess): Promise<void> {
  b.kill('SIGTERM');
  await once(b, 'exit');
}

/** The running service's log (stderr), for the failure message of a wait that times out. */
let serviceLog = '';

async function startService(port: number): Promise<ChildProcess> {
  const p = spawn(process.execPath, [
    'dist/runtime/cli/main.js', 'run',
    '--broker', `mqtt://127.0.0.1:${port}`, '--model', modelPath, '--client-id', 'edgelstm-test', '--qos', '1',
    '--state-file', join(dir, 'state.bin'), '--snapshot-interval-s', '0.5', '--metrics-port', '0', '--watch-model=false', '--reconnect-min-ms', '100', '--reconnect-max-ms', '1000',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  p.stderr!.on('data', (b: Buffer) => {
    log += b.toString();
    serviceLog = log;
    if (process.env['TEST_LOG']) process.stderr.write(b);
  });
  await until(() => log.includes('"subscribed"') || p.exitCode !== null, 60_000, 'service subscribed');
  if (p.exitCode !== null) throw new Error(`service exited: ${log}`);
  return p;
}

t.test('nothing lost: service SIGTERM and kill -9, broker restart; forecasts continue exactly as in an uninterrupted run', { timeout: 85_000, skip: existsSync(MOSQUITTO) ? false : 'mosquitto not installed' }, async (t) => {
  const port = await freePort();
  let broker = startBroker(port);
  t.teardown(() => broker.kill('SIGKILL'));
  await new Promise((r) => setTimeout(r, 300));
  const results = new Map<string, Result>();
  let resultMessages = 0;
  const sub = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: 'results-sub', clean: false, reconnectPeriod: 100 });
  t.teardown(() => sub.end(true));
  sub.on('message', (_t, p) => {
    const r = JSON.parse(p.toString()) as Result;
    resultMessages++;
    results.set(`${r.device}@${r.ts}`, r);
  });
  await sub.subscribeAsync('edgelstm/+/result', { qos: 1 });
  const pub = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: 'readings-pub', clean: false, reconnectPeriod: 100 });
  t.teardown(() => pub.end(true));
  const publish = (from: number, to: number): Promise<unknown[]> => {
    const ps: Promise<unknown>[] = [];
    for (let i = from; i < to; i++) for (let d = 0; d < DEVICES; d++) ps.push(pub.publishAsync(`sensors/d${d}/telemetry`, JSON.stringify({ ts: TS0 + i * 1000, value: value(d, i) }), { qos: 1 }));
    return Promise.all(ps);
  };

  let svc = await startService(port);
  t.teardown(() => svc.kill('SIGKILL'));
  await publish(0, 30);
  await until(() => results.size === 30 * DEVICES, 30_000, 'first results');
  // A clean stop: drain, snapshot, exit 0. Readings published meanwhile wait in the persistent session.
  svc.kill('SIGTERM');
  const [code] = (await once(svc, 'exit')) as [number];
  t.equal(code, 0, 'clean exit on SIGTERM');
  await publish(30, 50);
  svc = await startService(port);
  await until(() => results.size === 50 * DEVICES, 30_000, 'results of readings published while down');

  const model = await loadModel(modelPath);
  const ref = new Engine(model, {});
  const refResults: Result[] = [];
  for (let i = 0; i < 50; i++) for (let d = 0; d < DEVICES; d++) refResults.push(await ref.push({ device: `d${d}`, ts: TS0 + i * 1000, values: [value(d, i)] }));
  const exact = refResults.filter((r) => JSON.stringify(results.get(`${r.device}@${r.ts}`)?.forecast) === JSON.stringify(r.forecast)).length;
  t.equal(exact, refResults.length, 'after SIGTERM and restart every forecast equals an uninterrupted run');
  await ref.close();
  await model.release();

  // kill -9 with readings in flight: their PUBACKs were held, so the broker delivers them again.
  const flood = publish(50, 250);
  await until(() => results.size >= 60 * DEVICES, 30_000, 'some flood results');
  svc.kill('SIGKILL');
  await once(svc, 'exit');
  await flood;
  svc = await startService(port);
  await until(() => results.size === 250 * DEVICES, 60_000, 'results resuming after kill -9').catch((e: Error) => {
    const missing: string[] = [];
    for (let i = 0; i < 250; i++) for (let d = 0; d < DEVICES; d++) if (!results.has(`d${d}@${TS0 + i * 1000}`)) missing.push(`d${d}:${i}`);
    throw new Error(`${e.message}: have ${results.size} of ${250 * DEVICES}; missing ${missing.slice(0, 40).join(' ')}; service log:\n${serviceLog.slice(-3000)}`);
  });
  t.pass('every reading of the kill -9 phase has its result');
  // Broker restart mid-stream: persistence keeps the sessions; the service reconnects with backoff.
  const more = publish(250, 300);
  await until(() => results.size >= 255 * DEVICES, 30_000, 'some results before the broker restart');
  await stopBroker(broker);
  broker = startBroker(port);
  await more;
  await until(() => results.size === 300 * DEVICES, 30_000, `every reading's result (have ${results.size})`).catch(() => undefined);
  t.equal(results.size, 300 * DEVICES, 'every reading published at QoS 1 yielded a result');
  if (results.size !== 300 * DEVICES) {
    const missing: string[] = [];
    for (let i = 0; i < 300; i++) for (let d = 0; d < DEVICES; d++) if (!results.has(`d${d}@${TS0 + i * 1000}`)) missing.push(`d${d}:${i}`);
    t.comment(`missing: ${missing.join(' ')}`);
  }
  t.comment(`result messages ${resultMessages} for ${300 * DEVICES} readings (duplicates are at-least-once redeliveries)`);
  // The kill -9 and the broker restart included: the journal makes the restarted service step on from where it was.
  const model2 = await loadModel(modelPath);
  const ref2 = new Engine(model2, {});
  let same = 0;
  for (let i = 0; i < 300; i++) {
    for (let d = 0; d < DEVICES; d++) {
      const r = await ref2.push({ device: `d${d}`, ts: TS0 + i * 1000, values: [value(d, i)] });
      // A redelivered reading's result carries redelivered: true beside the same fields.
      const got = results.get(`${r.device}@${r.ts}`) as (Result & { redelivered?: boolean }) | undefined;
      const { redelivered: _flag, ...fields } = got ?? ({} as Result & { redelivered?: boolean });
      if (got !== undefined && JSON.stringify(fields) === JSON.stringify(r)) same++;
    }
  }
  t.equal(same, 300 * DEVICES, 'every result of the whole run equals an uninterrupted run');
  await ref2.close();
  await model2.release();
  svc.kill('SIGTERM');
  await once(svc, 'exit');
});
