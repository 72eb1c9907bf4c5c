import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { get } from 'sparkplug-payload';
import { tempDir, writeTestModel } from '../helpers/models';
import { freePort, MOSQUITTO, startMosquitto, startService, until } from '../service/helpers';

// Sparkplug 3.0 STATE of edgelstm as a primary host application, and the edge node's bdSeq across restarts, through a real Mosquitto.
t.setTimeout(120_000);
const tahu = get('spBv1.0')!;
const dir = tempDir('edgelstm-sparkplug-state-');
const modelPath = writeTestModel(dir, { features: ['temp'] });
const skip = existsSync(MOSQUITTO) ? false : 'mosquitto not installed';

interface Seen {
  topic: string;
  payload: Buffer;
  retain: boolean;
}
const state = (m: Seen): { online: boolean; timestamp: number } => JSON.parse(m.payload.toString()) as { online: boolean; timestamp: number };

async function observer(url: string, filter: Record<string, { qos: 0 | 1 }>, t: { teardown(fn: () => unknown): void }): Promise<{ seen: Seen[]; c: mqtt.MqttClient }> {
  const c = await mqtt.connectAsync(url, { clientId: `obs-${Math.random()}` });
  t.teardown(() => c.endAsync());
  const seen: Seen[] = [];
  c.on('message', (topic, payload, packet) => seen.push({ topic, payload, retain: packet.retain }));
  await c.subscribeAsync(filter);
  return { seen, c };
}

/** The retained message on a topic, as a client that subscribes now gets it. */
async function retained(url: string, topic: string): Promise<string> {
  const c = await mqtt.connectAsync(url, { clientId: `late-${Math.random()}` });
  let got = '';
  c.on('message', (_t, payload, packet) => {
    if (packet.retain) got = payload.toString();
  });
  await c.subscribeAsync(topic, { qos: 1 });
  await until(() => got !== '', 10_000, `retained ${topic}`);
  await c.endAsync();
  return got;
}

t.test('STATE: birth after subscribing, retained, same timestamp as the will; a foreign offline answered; death at stop', { skip }, async (t) => {
  const port = await freePort();
  const broker = await startMosquitto(dir, port, ['allow_anonymous true']);
  t.teardown(() => broker.kill('SIGKILL'));
  const url = `mqtt://127.0.0.1:${port}`;
  const { seen, c } = await observer(url, { 'spBv1.0/STATE/#': { qos: 1 } }, t);
  const TOPIC = 'spBv1.0/STATE/scada-1';

  const svc = await startService(modelPath, ['--broker', url, '--client-id', 'st-svc', '--name', 'st-svc', '--payload', 'sparkplug', '--sparkplug-host-id', 'scada-1']);
  let stopped = false;
  t.teardown(() => (stopped ? undefined : svc.stop()));
  await until(() => seen.some((m) => m.topic === TOPIC && state(m).online), 10_000, 'STATE online');
  const birth = seen.find((m) => m.topic === TOPIC)!;
  const ts = state(birth).timestamp;
  t.same(Object.keys(state(birth)).sort(), ['online', 'timestamp'], 'JSON with online and timestamp (Sparkplug 3.0)');
  t.ok(Math.abs(ts - Date.now()) < 60_000, 'timestamp: epoch ms of the connect');
  t.same(JSON.parse(await retained(url, TOPIC)), { online: true, timestamp: ts }, 'the birth is retained');

  // Another client (or a stale will) says this host is offline: the host answers with its birth again.
  await c.publishAsync(TOPIC, JSON.stringify({ online: false, timestamp: Date.now() }), { qos: 1, retain: true });
  await until(() => seen.filter((m) => m.topic === TOPIC && state(m).online).length >= 2, 10_000, 'birth published again');
  t.same(JSON.parse(await retained(url, TOPIC)), { online: true, timestamp: ts }, 'online again, retained');
  t.equal(seen.filter((m) => m.topic === 'spBv1.0/STATE/st-svc').length, 0, 'the host id option names the topic');

  await svc.stop();
  stopped = true;
  await until(() => seen.filter((m) => m.topic === TOPIC).some((m, i, a) => i === a.length - 1 && !state(m).online), 10_000, 'STATE offline at stop');
  t.same(JSON.parse(await retained(url, TOPIC)), { online: false, timestamp: ts }, 'death retained, with the session\'s timestamp');
});

async function run(args: string[]): Promise<{ p: ChildProcess; log: () => string }> {
  const p = spawn(process.execPath, ['dist/runtime/cli/main.js', 'run', '--model', modelPath, '--metrics-port', '0', '--watch-model=false', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  p.stderr!.on('data', (b: Buffer) => (log += b.toString()));
  await until(() => log.includes('"subscribed"') || p.exitCode !== null, 60_000, 'service subscribed');
  if (p.exitCode !== null) throw new Error(`service exited: ${log}`);
  return { p, log: () => log };
}

t.test('kill -9 with Sparkplug in and out: STATE offline and NDEATH, each its own will; bdSeq goes on after a restart (state file)', { skip }, async (t) => {
  const port = await freePort();
  const broker = await startMosquitto(dir, port, ['allow_anonymous true'], 'mosquitto-2.conf');
  t.teardown(() => broker.kill('SIGKILL'));
  const url = `mqtt://127.0.0.1:${port}`;
  const { seen } = await observer(url, { 'spBv1.0/#': { qos: 1 } }, t);
  const stateFile = join(dir, 'run', 'state.bin');
  const args = ['--broker', url, '--client-id', 'both', '--name', 'gw', '--payload', 'sparkplug', '--result-format', 'sparkplug', '--state-file', stateFile];
  const bdSeqOf = (m: Seen): number => Number(tahu.decodePayload(m.payload).metrics!.find((x) => x.name === 'bdSeq')!.value);
  const nbirths = (): Seen[] => seen.filter((m) => m.topic === 'spBv1.0/edgelstm/NBIRTH/gw');
  const ndeaths = (): Seen[] => seen.filter((m) => m.topic === 'spBv1.0/edgelstm/NDEATH/gw');
  const states = (): Seen[] => seen.filter((m) => m.topic === 'spBv1.0/STATE/gw');

  const first = await run(args);
  t.teardown(() => first.p.kill('SIGKILL'));
  await until(() => nbirths().length === 1 && states().some((m) => state(m).online), 10_000, 'NBIRTH and STATE online');
  const b1 = bdSeqOf(nbirths()[0]!);
  t.equal(b1, 0, 'first run: bdSeq 0');
  t.same(JSON.parse(readFileSync(`${stateFile}.sparkplug.json`, 'utf8')), { nextBdSeq: 1 }, 'the next bdSeq is saved before the session is used');
  const stateTs = state(states().find((m) => state(m).online)!).timestamp;
  first.p.kill('SIGKILL');
  await until(() => ndeaths().length === 1 && states().some((m) => !state(m).online), 20_000, 'both wills');
  t.equal(bdSeqOf(ndeaths()[0]!), b1, 'NDEATH will: the session\'s bdSeq');
  t.same(state(states().find((m) => !state(m).online)!), { online: false, timestamp: stateTs }, 'STATE will: offline, the birth\'s timestamp');

  const second = await run(args);
  t.teardown(() => second.p.kill('SIGTERM'));
  await until(() => nbirths().length === 2 && states().filter((m) => state(m).online).length === 2, 10_000, 'second NBIRTH and STATE');
  t.equal(bdSeqOf(nbirths()[1]!), 1, 'after a restart: the next bdSeq, not 0 again');
  t.ok(state(states().filter((m) => state(m).online)[1]!).timestamp > stateTs, 'a new STATE session, a later timestamp');
  second.p.kill('SIGTERM');
  await until(() => second.p.exitCode !== null, 20_000, 'graceful stop');
  t.ok(ndeaths().length === 2 && bdSeqOf(ndeaths()[1]!) === 1, 'NDEATH at stop: bdSeq 1');
  t.notOk(state(states().at(-1)!).online, 'STATE offline at stop');
  t.same(JSON.parse(readFileSync(`${stateFile}.sparkplug.json`, 'utf8')), { nextBdSeq: 2 }, 'the next run starts at 2');
});
