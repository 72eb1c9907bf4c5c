// Mosquitto 2.0.11 numbers a client's messages when it queues them and sends one as soon as the receive maximum
// allows, even while an earlier message with the same id is unacknowledged (a valid reading waiting for its result
// while 65,535 rejected ones pass it, as under the fuzz flood). A PUBACK names only the id and the broker removes the
// oldest message with it. BrokerConnection must keep the two deliveries apart: one PUBACK each, in delivery order,
// none before its own reading is finished. Real Mosquitto; 65,536 QoS 1 readings so the broker's id wraps.
import t from 'tap';
import pino from 'pino';
import { tmpdir } from 'node:os';
import type { IPublishPacket } from 'mqtt';
import { parseArgs } from '../../runtime/cli/args';
import { RUN_SPECS, resolveServiceConfig } from '../../runtime/service/config';
import { BrokerConnection } from '../../runtime/service/connection';
import { client, until } from './helpers';
import { mosquitto, noMosquitto, type Broker } from '../security/harness';

t.setTimeout(300_000);

const N = 65_536 + 200;

/** A connection (persistent session, MQTT 5) that gives each reading to `take`, with the id it had on the wire. */
async function open(url: string, id: string, take: (packet: IPublishPacket, wireId: number) => void): Promise<BrokerConnection> {
  const { values } = parseArgs(['--broker', url, '--client-id', id, '--protocol', '5'], RUN_SPECS);
  let wireId = 0;
  const conn: BrokerConnection = new BrokerConnection(resolveServiceConfig(values, {}), url, pino({ level: 'silent' }), (packet, admitted) => {
    take(packet, wireId);
    admitted();
  });
  // mqtt.js's message event sees the packet before the connection gives it to the handler.
  conn.client.on('message', (_topic, _payload, packet) => (wireId = packet.messageId ?? 0));
  let connected = false;
  conn.onConnect = () => (connected = true);
  conn.connect();
  await until(() => connected, 20_000, 'connected');
  return conn;
}

/**
 * Subscribes `id`, publishes N readings (payload = index) and finishes every one as it comes, except reading 0 and
 * the later readings whose wire id is reading 0's (the reuse): those are returned, held.
 */
async function flood(broker: Broker, id: string): Promise<{ conn: BrokerConnection; first: IPublishPacket; reused: IPublishPacket[] }> {
  let first: IPublishPacket | undefined;
  let firstWire = -1;
  const reused: IPublishPacket[] = [];
  let got = 0;
  const conn = await open(broker.url, id, (packet, wireId) => {
    got++;
    if (first === undefined) {
      first = packet;
      firstWire = wireId;
    } else if (wireId === firstWire) reused.push(packet);
    else conn.finish(packet.messageId, conn.generation);
  });
  await conn.client.subscribeAsync('reuse/in', { qos: 1 });
  const pub = await client(broker.url, `${id}-pub`);
  for (let i = 0; i < N; i += 2000) {
    await Promise.all(Array.from({ length: Math.min(2000, N - i) }, (_, k) => pub.publishAsync('reuse/in', String(i + k), { qos: 1 })));
  }
  await pub.endAsync();
  await until(() => got === N, 120_000, `${N} readings`);
  return { conn, first: first!, reused };
}

/** Closes `conn` (the session stays) and reconnects: the readings the broker delivers again. */
async function redelivered(broker: Broker, conn: BrokerConnection, id: string): Promise<string[]> {
  await conn.close();
  const again: string[] = [];
  const next = await open(broker.url, id, (packet) => again.push((packet.payload as Buffer).toString()));
  await new Promise((r) => setTimeout(r, 1500));
  await next.close();
  return again;
}

t.test('a reused id finished first does not acknowledge the earlier reading', { skip: noMosquitto }, async (t) => {
  const broker = await mosquitto(tmpdir(), ['allow_anonymous true', 'max_queued_messages 0']);
  t.teardown(() => broker.stop());
  const id = `reuse-a-${process.pid}`;
  const { conn, first, reused } = await flood(broker, id);
  t.equal((first.payload as Buffer).toString(), '0', 'reading 0 came first');
  t.ok(reused.length >= 1, `the broker sent reading 0's id again while it was held (${reused.length}x)`);
  t.not(reused[0]!.messageId, first.messageId, 'the two deliveries have keys of their own');
  t.equal(conn.reusedIds, reused.length, 'counted');
  // The later reading is done, reading 0 is not: a PUBACK now would remove reading 0 at the broker.
  for (const p of reused) conn.finish(p.messageId, conn.generation);
  await new Promise((r) => setTimeout(r, 500));
  const again = await redelivered(broker, conn, id);
  t.ok(again.includes('0'), `reading 0, never finished, is delivered again (got ${JSON.stringify(again.slice(0, 5))})`);
});

t.test('both deliveries of a reused id are acknowledged, in order', { skip: noMosquitto }, async (t) => {
  const broker = await mosquitto(tmpdir(), ['allow_anonymous true', 'max_queued_messages 0']);
  t.teardown(() => broker.stop());
  const id = `reuse-b-${process.pid}`;
  const { conn, first, reused } = await flood(broker, id);
  t.ok(reused.length >= 1, 'the broker reused reading 0\'s id');
  for (const p of reused) conn.finish(p.messageId, conn.generation);
  conn.finish(first.messageId, conn.generation);
  await until(() => conn.held === 0, 10_000, 'every hold released');
  await new Promise((r) => setTimeout(r, 500));
  t.same(await redelivered(broker, conn, id), [], 'nothing left unacknowledged at the broker');
});
