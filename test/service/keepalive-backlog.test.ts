/**
 * The 200k fuzz run's reconnects (issue 14): under a flood the broker's PINGRESP waits in the socket behind
 * every reading it sent first, and a client that steps readings more slowly than half a keepalive lets it
 * through timed out and reconnected every ~50 s, making the broker redeliver everything unacknowledged.
 * Here a handler that admits one reading per 40 ms and a 1 s keepalive make 150 readings (6 s) queue ahead of
 * each PINGRESP against a real Mosquitto: the connection must hold, and every reading arrive once.
 */
import t from 'tap';
import pino from 'pino';
import { tmpdir } from 'node:os';
import { connect as tcpConnect, createServer, type Socket } from 'node:net';
import type { IPublishPacket } from 'mqtt';
import { parseArgs } from '../../runtime/cli/args';
import { RUN_SPECS, resolveServiceConfig } from '../../runtime/service/config';
import { BrokerConnection } from '../../runtime/service/connection';
import { client, freePort, until } from './helpers';
import { mosquitto, noMosquitto } from '../security/harness';

t.setTimeout(120_000);

t.test('a PINGRESP queued behind slowly stepped readings does not time the connection out', { skip: noMosquitto }, async (t) => {
  const broker = await mosquitto(tmpdir());
  t.teardown(() => broker.stop());
  const lines: { msg: string }[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as { msg: string }) });
  const { values } = parseArgs(['--broker', broker.url, '--keepalive', '1', '--client-id', `ka-${process.pid}`, '--reconnect-min-ms', '100', '--reconnect-max-ms', '200'], RUN_SPECS);
  const cfg = resolveServiceConfig(values, {});
  const got: number[] = [];
  let conn: BrokerConnection | undefined = undefined;
  const queue: [IPublishPacket, () => void][] = [];
  // One reading at a time, 40 ms each: the client reads its socket no faster than that.
  let busy = false;
  const step = (): void => {
    const next = queue.shift();
    busy = next !== undefined;
    if (!next) return;
    setTimeout(() => {
      const [packet, admitted] = next;
      got.push(Number(packet.payload.toString()));
      conn!.finish(packet.messageId, conn!.generation);
      admitted();
      step();
    }, 40);
  };
  conn = new BrokerConnection(cfg, broker.url, log, (packet, admitted) => {
    queue.push([packet, admitted]);
    if (!busy) step();
  });
  const connects: number[] = [];
  conn.onConnect = () => connects.push(Date.now());
  conn.connect();
  await until(() => connects.length === 1, 20_000, 'connected');
  await conn.client.subscribeAsync('ka/in', { qos: 1 });
  const pub = await client(broker.url, 'ka-pub');
  t.teardown(() => pub.endAsync());
  const N = 150;
  await Promise.all(Array.from({ length: N }, (_, i) => pub.publishAsync('ka/in', String(i), { qos: 1 })));
  await until(() => new Set(got).size === N, 60_000, `all ${N} readings`);
  await new Promise((r) => setTimeout(r, 1500)); // a keepalive round more: nothing redelivered
  t.equal(connects.length, 1, 'one connection throughout (no keepalive timeout, no reconnect)');
  t.notMatch(broker.log(), /Client ka-\S+ (disconnected|closed its connection)|Broken pipe|exceeded timeout/, 'Mosquitto saw no disconnect');
  t.equal(got.length, N, 'each reading once: no redelivery');
  t.ok(lines.some((l) => l.msg.includes('keepalive deferred')), 'the deferral was needed (and said)');
  await conn.close();
});

t.test('blocked on one reading (queue full) while results of earlier ones still go out: the connection holds', { skip: noMosquitto }, async (t) => {
  // The end of a flood: nothing more to take from the socket, the client waits for queue space to admit the
  // last reading it took, and the PINGRESP waits behind it while the queue drains (results published).
  const broker = await mosquitto(tmpdir());
  t.teardown(() => broker.stop());
  const lines: { msg: string }[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as { msg: string }) });
  const { values } = parseArgs(['--broker', broker.url, '--keepalive', '1', '--client-id', `kb-${process.pid}`], RUN_SPECS);
  const cfg = resolveServiceConfig(values, {});
  let taken = 0;
  let conn: BrokerConnection | undefined = undefined;
  conn = new BrokerConnection(cfg, broker.url, log, (packet, admitted) => {
    taken++;
    let n = 0;
    const drain = setInterval(() => conn!.publish('kb/out', String(n++), 1), 100);
    setTimeout(() => {
      clearInterval(drain);
      conn!.finish(packet.messageId, conn!.generation);
      admitted();
    }, 5000);
  });
  const connects: number[] = [];
  conn.onConnect = () => connects.push(Date.now());
  conn.connect();
  await until(() => connects.length === 1, 20_000, 'connected');
  await conn.client.subscribeAsync('kb/in', { qos: 1 });
  const pub = await client(broker.url, 'kb-pub');
  t.teardown(() => pub.endAsync());
  await pub.publishAsync('kb/in', 'x', { qos: 1 });
  await new Promise((r) => setTimeout(r, 7000));
  t.equal(connects.length, 1, 'one connection throughout');
  t.notMatch(broker.log(), /Client kb-\S+ (disconnected|closed its connection)|Broken pipe|exceeded timeout/, 'Mosquitto saw no disconnect');
  t.equal(taken, 1, 'the reading taken once: no redelivery');
  await conn.close();
});

t.test('results acknowledged slowly by the broker while its PINGRESP waits behind them: the connection holds', { skip: noMosquitto }, async (t) => {
  // The end of the 1M fuzz run: the client publishes nothing more and takes no readings, waiting for the broker's
  // PUBACKs, which come slowly because the broker works through the results in order; the PINGREQ sent after
  // them is answered only once they all are. Here a link from the client to a real Mosquitto that carries
  // 256 bytes per 50 ms (the other direction unthrottled) makes 150 results of ~210 bytes take ~6 s, the
  // PINGREQ behind them, while their PUBACKs arrive one by one.
  const broker = await mosquitto(tmpdir());
  t.teardown(() => broker.stop());
  const port = await freePort();
  const sockets: Socket[] = [];
  const timers: NodeJS.Timeout[] = [];
  const link = createServer((down) => {
    const up = tcpConnect(broker.port, '127.0.0.1');
    sockets.push(down, up);
    up.pipe(down);
    let pending = Buffer.alloc(0);
    down.on('data', (b: Buffer) => (pending = Buffer.concat([pending, b])));
    const slow = setInterval(() => {
      if (pending.length === 0 || up.destroyed) return;
      up.write(pending.subarray(0, 256));
      pending = pending.subarray(256);
    }, 50);
    timers.push(slow);
    const end = (): void => {
      clearInterval(slow);
      down.destroy();
      up.destroy();
    };
    down.on('close', end).on('error', end);
    up.on('close', end).on('error', end);
  }).listen(port, '127.0.0.1');
  t.teardown(() => {
    for (const x of timers) clearInterval(x);
    for (const s of sockets) s.destroy();
    link.close();
  });
  const lines: { msg: string }[] = [];
  const log = pino({ level: 'info' }, { write: (s: string) => void lines.push(JSON.parse(s) as { msg: string }) });
  const url = `mqtt://127.0.0.1:${port}`;
  const { values } = parseArgs(['--broker', url, '--keepalive', '1', '--client-id', `kp-${process.pid}`, '--reconnect-min-ms', '100', '--reconnect-max-ms', '200'], RUN_SPECS);
  const cfg = resolveServiceConfig(values, {});
  const conn = new BrokerConnection(cfg, url, log, (_packet, admitted) => admitted());
  const connects: number[] = [];
  conn.onConnect = () => connects.push(Date.now());
  conn.connect();
  await until(() => connects.length === 1, 20_000, 'connected');
  const N = 150;
  const done = new Map<number, number>();
  const body = 'r'.repeat(200);
  for (let i = 0; i < N; i++) conn.publish('kp/out', `${body}${i}`, 1, () => done.set(i, (done.get(i) ?? 0) + 1));
  await until(() => done.size === N, 60_000, `all ${N} results acknowledged`);
  await new Promise((r) => setTimeout(r, 1500)); // a keepalive round more
  t.equal(connects.length, 1, 'one connection throughout (no keepalive timeout, no reconnect)');
  t.notMatch(broker.log(), /Client kp-\S+ (disconnected|closed its connection)|Broken pipe|exceeded timeout/, 'Mosquitto saw no disconnect');
  t.ok([...done.values()].every((n) => n === 1), 'each result acknowledged once');
  t.ok(lines.some((l) => l.msg.includes('keepalive deferred')), 'the deferral was needed (and said)');
  await conn.close();
});
