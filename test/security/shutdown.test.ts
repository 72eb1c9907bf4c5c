import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { once } from 'node:events';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { tempDir, writeTestModel } from '../helpers/models';
import { freePort, until } from '../service/helpers';
import { mosquitto, noMosquitto } from './harness';

// Defects 6 and 11 of issue 14: SIGTERM during a broker outage never completed; a busy metrics port left a
// service running that nobody could watch, and its SIGTERM exited without a drain or a snapshot.

t.setTimeout(100_000);
const dir = tempDir('edgelstm-sec-stop-');
const modelPath = writeTestModel(dir);

function run(args: string[]): { p: ChildProcess; log: () => string } {
  const p = spawn(process.execPath, ['dist/runtime/cli/main.js', 'run', '--model', modelPath, '--watch-model=false', '--client-id', `stop-${Math.random()}`, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  p.stdout!.on('data', (b: Buffer) => (text += b.toString()));
  p.stderr!.on('data', (b: Buffer) => (text += b.toString()));
  return { p, log: () => text };
}

t.test('SIGTERM while the broker is down (reconnecting): exits 0 within --stop-timeout-s, with a final snapshot', { skip: noMosquitto }, async (t) => {
  const broker = await mosquitto(dir);
  t.teardown(() => broker.stop());
  const state = join(dir, 'state.bin');
  const { p, log } = run(['--broker', broker.url, '--state-file', state, '--snapshot-interval-s', '0', '--metrics-port', '0', '--stop-timeout-s', '3', '--reconnect-min-ms', '100', '--reconnect-max-ms', '300']);
  t.teardown(() => p.kill('SIGKILL'));
  await until(() => log().includes('"subscribed"') || p.exitCode !== null, 60_000, 'service subscribed');
  const c = await mqtt.connectAsync(broker.url, { clientId: 'pub' });
  for (let i = 0; i < 50; i++) await c.publishAsync('sensors/a/telemetry', JSON.stringify({ ts: Date.now() - 1000 + i, value: i }), { qos: 1 });
  await c.endAsync();
  await new Promise((r) => setTimeout(r, 300));
  await broker.stop();
  await until(() => log().includes('reconnecting'), 10_000, 'the service to see the broker gone');
  const before = Date.now();
  p.kill('SIGTERM');
  const [code] = (await once(p, 'exit')) as [number | null];
  const ms = Date.now() - before;
  t.equal(code, 0, 'exit code 0');
  t.ok(ms < 3000 + 1500, `exited in ${ms} ms (deadline 3000 ms)`);
  t.ok(existsSync(state) && statSync(state).mtimeMs >= before - 10, 'the final snapshot was written during the shutdown');
  t.match(log(), /"stopped"/, 'the stop completed (drain, snapshot, disconnect)');
});

t.test('a busy metrics port stops start-up with a clear error before anything runs', async (t) => {
  const port = await freePort();
  const holder = createServer().listen(port, '127.0.0.1');
  await once(holder, 'listening');
  t.teardown(() => holder.close());
  const broker = await freePort(); // nothing listens there: the service must not get as far as connecting
  const { p, log } = run(['--broker', `mqtt://127.0.0.1:${broker}`, '--metrics-port', String(port)]);
  t.teardown(() => p.kill('SIGKILL'));
  const [code] = (await once(p, 'exit')) as [number | null];
  t.not(code, 0, 'non-zero exit');
  t.match(log(), /--metrics-port.*127\.0\.0\.1:\d+ in use by another process/, 'names the option, address and reason');
  t.notMatch(log(), /"starting"|connected to|"subscribed"/, 'nothing started');
});
