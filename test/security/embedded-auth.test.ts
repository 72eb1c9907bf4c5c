import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import pino from 'pino';
import { parseArgs } from '../../runtime/cli/args';
import { RUN_SPECS, resolveServiceConfig } from '../../runtime/service/config';
import { MqttService } from '../../runtime/service/service';
import { tempDir, writeTestModel } from '../helpers/models';
import { until } from '../service/helpers';

// Issue 14, deliver 1: the embedded broker (Aedes) authenticates clients from a file, and refuses to listen beyond
// loopback without it unless explicitly allowed.

t.setTimeout(60_000);
const dir = tempDir('edgelstm-sec-auth-');
const modelPath = writeTestModel(dir);
const users = join(dir, 'users');
writeFileSync(users, '# name:password\noperator:correct horse battery\n', { mode: 0o600 });
const resolve = (args: string[]): ReturnType<typeof resolveServiceConfig> => resolveServiceConfig(parseArgs(['--embedded-port', '0', '--metrics-port', '0', '--watch-model=false', ...args], RUN_SPECS).values, {});

t.test('beyond loopback without users: refused before anything starts, naming the way out', async (t) => {
  t.throws(() => resolve(['--embedded-host', '0.0.0.0']), { code: 'E_CONFIG', message: /--embedded-host: expected a loopback address, or --embedded-users FILE/ });
  t.doesNotThrow(() => resolve(['--embedded-host', '0.0.0.0', '--embedded-users', users]));
  t.doesNotThrow(() => resolve(['--embedded-host', '0.0.0.0', '--embedded-allow-anonymous']));
  t.doesNotThrow(() => resolve(['--embedded-host', '127.0.0.1']), 'loopback alone is the default');
  writeFileSync(join(dir, 'bad-users'), 'no colon here\n');
  t.throws(() => resolve(['--embedded-users', join(dir, 'bad-users')]), { code: 'E_CONFIG', message: /line 1: expected name:password/ });
});

t.test('with --embedded-users: anonymous and wrong passwords refused, the listed user served', async (t) => {
  const svc = await MqttService.start(resolve(['--embedded-host', '0.0.0.0', '--embedded-users', users, '--client-id', 'auth-svc']), modelPath, pino({ level: 'silent' }));
  t.teardown(() => svc.stop());
  t.equal(svc.embeddedBrokerRunning, true);
  const refused = async (o: mqtt.IClientOptions): Promise<string> => {
    try {
      const c = await mqtt.connectAsync(svc.brokerUrl, { ...o, reconnectPeriod: 0, connectTimeout: 5000 });
      await c.endAsync();
      return 'connected';
    } catch (e) {
      return (e as Error).message;
    }
  };
  t.match(await refused({}), /Bad username or password/i, 'anonymous');
  t.match(await refused({ username: 'operator', password: 'wrong' }), /Bad username or password/i, 'wrong password');
  t.match(await refused({ username: 'nobody', password: 'correct horse battery' }), /Bad username or password/i, 'unknown user');
  const c = await mqtt.connectAsync(svc.brokerUrl, { username: 'operator', password: 'correct horse battery', reconnectPeriod: 0 });
  t.teardown(() => c.endAsync());
  const got: unknown[] = [];
  c.on('message', (_topic, p) => got.push(JSON.parse(p.toString())));
  await c.subscribeAsync('edgelstm/+/result', { qos: 1 });
  await c.publishAsync('sensors/p1/telemetry', JSON.stringify({ value: 1, ts: Date.now() }), { qos: 1 });
  await until(() => got.length === 1, 10_000, 'a result');
  t.match(got[0], { device: 'p1' }, 'the listed user publishes and reads results; the service itself is connected');
});
