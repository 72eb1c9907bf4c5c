// Mosquitto 2.0.11 numbers a client's messages when it queues them and sends one as soon as the receive maximum
// allows, even while an earlier message with the same id is unacknowledged (a valid reading waiting for its result
// while 65,535 rejected ones pass it, as under the fuzz flood). A PUBACK names only the id and the broker removes the
// oldest message with it. BrokerConnection must keep the two deliveries apart: one PUBACK each, in delivery order,
// none before its own reading is finished. Real Mosquitto; 65,735 QoS 1 readings so the broker's id wraps.
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

const N = 65_535 + 200;

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
 * Subscribes `id` and publishes N readings (payload = index); the first 65,535 arrive and are held (the receive
 * maximum), then reading 0 is finished: its PUBACK makes Mosquitto send the rest at once, past the receive maximum,
 * and those reuse the ids of readings 1, 2, ... still held. Returns the connection, every delivery, and the later
 * deliveries whose wire id an earlier held one has.
 */
async function flood(broker: Broker, id: string): Promise<{ conn: BrokerConnection; got: IPublishPacket[]; reused: { earlier: IPublishPacket; later: IPublishPacket }[] }> {
  const got: IPublishPacket[] = [];
  const heldByWire = new Map<number, IPublishPacket>();
  const reused: { earlier: IPublishPacket; later: IPublishPacket }[] = [];
  const conn = await open(broker.url, id, (packet, wireId) => {
    got.push(packet);
    const earlier = heldByWire.get(wireId);
    if (earlier !== undefined) reused.push({ earlier, later: packet });
    else heldByWire.set(wireId, packet);
  });
  await conn.client.subscribeAsync('reuse/in', { qos: 1 });
  const pub = await client(broker.url, `${id}-pub`);
  for (let i = 0; i < N; i += 2000) {
    await Promise.all(Array.from({ length: Math.min(2000, N - i) }, (_, k) => pub.publishAsync('reuse/in', String(i + k), { qos: 1 })));
  }
  await pub.endAsync();
  await until(() => got.length === 65_535, 120_000, 'the first 65,535 readings');
  for (const [w, p] of heldByWire) if (p === got[0]) heldByWire.delete(w);
  conn.finish(got[0]!.messageId, conn.generation);
  await until(() => got.length === N, 120_000, `${N} readings`);
  return { conn, got, reused };
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

t.test('PUBACKs go in delivery order, each only once its reading is finished', { skip: noMosquitto }, async (t) => {
  const broker = await mosquitto(tmpdir(), ['allow_anonymous true']);
  t.teardown(() => broker.stop());
  const id = `order-${process.pid}`;
  const got: IPublishPacket[] = [];
  const wire: number[] = [];
  const conn = await open(broker.url, id, (packet, wireId) => {
    got.push(packet);
    wire.push(wireId);
  });
  t.teardown(() => conn.close());
  await conn.client.subscribeAsync('order/in', { qos: 1 });
  const pub = await client(broker.url, `${id}-pub`);
  t.teardown(() => pub.endAsync());
  await Promise.all(Array.from({ length: 50 }, (_, i) => pub.publishAsync('order/in', String(i), { qos: 1 })));
  await until(() => got.length === 50, 10_000, '50 readings');
  const pubacks = (): number[] => [...broker.log().matchAll(new RegExp(`Received PUBACK from ${id} \\(Mid: (\\d+)`, 'g'))].map((m) => Number(m[1]));
  for (let i = 49; i >= 1; i--) conn.finish(got[i]!.messageId, conn.generation);
  await new Promise((r) => setTimeout(r, 500));
  t.same(pubacks(), [], 'none while the oldest reading is held');
  conn.finish(got[0]!.messageId, conn.generation);
  await until(() => pubacks().length === 50, 10_000, '50 PUBACKs');
  t.same(pubacks(), wire, 'then all, oldest first');
});

t.test('a reused id finished first does not acknowledge the earlier reading', { skip: noMosquitto }, async (t) => {
  const broker = await mosquitto(tmpdir(), ['allow_anonymous true', 'max_queued_messages 0']);
  t.teardown(() => broker.stop());
  const id = `reuse-a-${process.pid}`;
  const { conn, reused } = await flood(broker, id);
  t.ok(reused.length >= 1, `the broker sent held readings' ids again (${reused.length}x)`);
  const { earlier, later } = reused[0]!;
  t.not(later.messageId, earlier.messageId, 'the two deliveries have keys of their own');
  t.equal(conn.reusedIds, reused.length, 'counted');
  // The later reading is done, the earlier one is not: a PUBACK for their id now would remove the earlier at the broker.
  conn.finish(later.messageId, conn.generation);
  await new Promise((r) => setTimeout(r, 500));
  const again = await redelivered(broker, conn, id);
  const e = (earlier.payload as Buffer).toString();
  t.ok(again.includes(e), `reading ${e}, never finished, is delivered again`);
});

t.test('both deliveries of a reused id are acknowledged', { skip: noMosquitto }, async (t) => {
  const broker = await mosquitto(tmpdir(), ['allow_anonymous true', 'max_queued_messages 0']);
  t.teardown(() => broker.stop());
  const id = `reuse-b-${process.pid}`;
  const { conn, got, reused } = await flood(broker, id);
  t.ok(reused.length >= 1, 'the broker reused held ids');
  // Latest first: the order of finishing does not matter.
  for (let i = got.length - 1; i >= 1; i--) conn.finish(got[i]!.messageId, conn.generation);
  await until(() => conn.held === 0, 20_000, 'every hold released');
  await new Promise((r) => setTimeout(r, 500));
  t.same(await redelivered(broker, conn, id), [], 'nothing left unacknowledged at the broker');
});
