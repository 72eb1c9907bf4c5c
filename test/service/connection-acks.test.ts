// BrokerConnection against a real Mosquitto: readings come in through the PublishReader (QoS 1 and 0, MQTT 3.1.1
// and 5), their PUBACKs wait for finish(); results go out batched at QoS 1 and the broker's PUBACKs, decoded by
// the reader, complete each publish and empty mqtt.js's outgoing store.
import t from 'tap';
import pino from 'pino';
import { tmpdir } from 'node:os';
import type { IPublishPacket } from 'mqtt';
import { parseArgs } from '../../runtime/cli/args';
import { RUN_SPECS, resolveServiceConfig } from '../../runtime/service/config';
import { BrokerConnection } from '../../runtime/service/connection';
import { client, until } from './helpers';
import { mosquitto, noMosquitto } from '../security/harness';

t.setTimeout(120_000);

for (const protocol of ['3.1.1', '5'] as const) {
  t.test(`MQTT ${protocol}: readings in order, PUBACKs only after finish, results acknowledged by the broker`, { skip: noMosquitto }, async (t) => {
    // No inflight cap: with MQTT 3.1.1 Mosquitto would stop at 20 unacknowledged readings (this test holds all of them).
    const broker = await mosquitto(tmpdir(), ['allow_anonymous true', 'max_inflight_messages 0']);
    t.teardown(() => broker.stop());
    const { values } = parseArgs(['--broker', broker.url, '--client-id', `acks-${process.pid}-${protocol}`, '--protocol', protocol], RUN_SPECS);
    const cfg = resolveServiceConfig(values, {});
    const got: IPublishPacket[] = [];
    const events: string[] = [];
    const conn: BrokerConnection = new BrokerConnection(cfg, broker.url, pino({ level: 'silent' }), (packet, admitted) => {
      got.push(packet);
      admitted();
    });
    let connected = false;
    conn.onConnect = () => (connected = true);
    conn.connect();
    t.teardown(() => conn.close());
    await until(() => connected, 20_000, 'connected');
    conn.client.on('message', (topic) => events.push(topic));
    await conn.client.subscribeAsync('acks/in/+', { qos: 1 });
    const sub = await client(broker.url, `acks-sub-${protocol}`);
    t.teardown(() => sub.endAsync());
    const results: string[] = [];
    sub.on('message', (_topic, payload) => results.push(payload.toString()));
    await sub.subscribeAsync('acks/out', { qos: 1 });

    const pub = await client(broker.url, `acks-pub-${protocol}`);
    t.teardown(() => pub.endAsync());
    const N = 300;
    const sends = Array.from({ length: N }, (_, i) => pub.publishAsync(`acks/in/${i % 7}`, String(i), { qos: (i % 3 === 0 ? 0 : 1) as 0 | 1 }));
    const pubacks = (): number => broker.log().split('\n').filter((l) => l.includes(`Received PUBACK from acks-${process.pid}-${protocol}`)).length;
    await until(() => got.length === N, 30_000, `${N} readings`);
    t.same(got.map((p) => Number(p.payload.toString())), Array.from({ length: N }, (_, i) => i), 'every reading once, in order');
    t.same(got.map((p) => p.qos), Array.from({ length: N }, (_, i) => (i % 3 === 0 ? 0 : 1)), 'QoS as sent');
    t.equal(events.length, N, "mqtt.js's message event still fires for each");
    await new Promise((r) => setTimeout(r, 300));
    t.equal(pubacks(), 0, 'no PUBACK before finish');
    t.equal(conn.held, (2 * N) / 3, 'the QoS 1 readings are held');
    for (const p of got) conn.finish(p.messageId, conn.generation);
    await Promise.all(sends);
    t.equal(conn.held, 0, 'every hold released by finish');
    await until(() => pubacks() === (2 * N) / 3, 10_000, 'PUBACKs at the broker');
    t.pass('the broker received one PUBACK per QoS 1 reading');

    let done = 0;
    const errors: unknown[] = [];
    for (let i = 0; i < N; i++) {
      conn.publish('acks/out', `r${i}`, 1, (err) => {
        if (err) errors.push(err);
        done++;
      });
    }
    await until(() => done === N, 30_000, 'result PUBACKs');
    t.same(errors, [], 'each result acknowledged without an error');
    t.same(await conn.unacked(''), [], "mqtt.js's outgoing store is empty once the broker acknowledged every result");
    await until(() => results.length === N, 30_000, 'results at the subscriber');
    t.same(results, Array.from({ length: N }, (_, i) => `r${i}`), 'results in order');
  });
}
