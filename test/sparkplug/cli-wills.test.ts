import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import mqtt from 'mqtt';
import { get } from 'sparkplug-payload';
import { tempDir, writeTestModel } from '../helpers/models';
import { freePort, MOSQUITTO, startMosquitto, until } from '../service/helpers';

// The compiled `edgelstm run` killed with SIGKILL: the broker publishes its will (Sparkplug NDEATH, Home Assistant offline).
t.setTimeout(90_000);
const tahu = get('spBv1.0')!;
const dir = tempDir('edgelstm-wills-');
const modelPath = writeTestModel(dir, { features: ['temp'] });
const skip = existsSync(MOSQUITTO) ? false : 'mosquitto not installed';

async function run(args: string[]): Promise<ChildProcess> {
  const p = spawn(process.execPath, ['dist/runtime/cli/main.js', 'run', '--model', modelPath, '--metrics-port', '0', '--watch-model=false', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  p.stderr!.on('data', (b: Buffer) => (log += b.toString()));
  await until(() => log.includes('"subscribed"') || p.exitCode !== null, 60_000, 'service subscribed');
  if (p.exitCode !== null) throw new Error(`service exited: ${log}`);
  return p;
}

t.test('kill -9: NDEATH with the NBIRTH\'s bdSeq, and Home Assistant offline, from the MQTT will', { skip }, async (t) => {
  const port = await freePort();
  const broker = await startMosquitto(dir, port, ['allow_anonymous true']);
  t.teardown(() => broker.kill('SIGKILL'));
  const url = `mqtt://127.0.0.1:${port}`;
  const c = await mqtt.connectAsync(url, { clientId: 'wills-observer' });
  t.teardown(() => c.endAsync());
  const seen: { topic: string; payload: Buffer }[] = [];
  c.on('message', (topic, payload) => seen.push({ topic, payload }));
  await c.subscribeAsync({ 'spBv1.0/#': { qos: 1 }, 'edgelstm/+/availability': { qos: 1 } });

  const [sp, ha] = await Promise.all([
    run(['--broker', url, '--client-id', 'sp-will', '--name', 'gw-sp', '--result-format', 'sparkplug']),
    run(['--broker', url, '--client-id', 'ha-will', '--name', 'gw-ha', '--ha-discovery']),
  ]);
  t.teardown(() => {
    sp.kill('SIGKILL');
    ha.kill('SIGKILL');
  });
  await until(() => seen.some((m) => m.topic === 'spBv1.0/edgelstm/NBIRTH/gw-sp') && seen.some((m) => m.topic === 'edgelstm/gw-ha/availability'), 10_000, 'births');
  t.equal(seen.find((m) => m.topic === 'edgelstm/gw-ha/availability')!.payload.toString(), 'online');
  sp.kill('SIGKILL');
  ha.kill('SIGKILL');
  // Mosquitto sends a will once it notices the socket closed.
  await until(() => seen.some((m) => m.topic === 'spBv1.0/edgelstm/NDEATH/gw-sp') && seen.filter((m) => m.topic === 'edgelstm/gw-ha/availability').length >= 2, 20_000, 'wills');
  const birth = tahu.decodePayload(seen.find((m) => m.topic === 'spBv1.0/edgelstm/NBIRTH/gw-sp')!.payload);
  const death = tahu.decodePayload(seen.find((m) => m.topic === 'spBv1.0/edgelstm/NDEATH/gw-sp')!.payload);
  const bdSeq = (p: typeof birth): number => Number(p.metrics!.find((m) => m.name === 'bdSeq')!.value);
  t.equal(bdSeq(death), bdSeq(birth), 'the NDEATH closes the session its NBIRTH opened');
  t.equal(seen.filter((m) => m.topic === 'edgelstm/gw-ha/availability').at(-1)!.payload.toString(), 'offline');
  // Retained: a Home Assistant that starts now sees the service offline.
  const late = await mqtt.connectAsync(url, { clientId: 'wills-late' });
  t.teardown(() => late.endAsync());
  let retained = '';
  late.on('message', (_topic, payload, packet) => {
    if (packet.retain) retained = payload.toString();
  });
  await late.subscribeAsync('edgelstm/gw-ha/availability', { qos: 1 });
  await until(() => retained !== '', 10_000, 'retained availability');
  t.equal(retained, 'offline');
});
