/**
 * Memory under a flood of rejected readings (issue 14): every rejected reading is published as a QoS 0 error
 * report, and while the broker reads the service's socket slower than the service writes, those reports used
 * to queue in the socket's buffer without bound (a 1M-payload fuzz run held ~800,000 of them, ~60 MB of heap).
 * Here a proxy between the service and a real Mosquitto stops reading what the service sends, and 60,000
 * invalid readings (~25 MB of reports) come in: every one must be counted, and the bytes waiting to be
 * written must stay near the 4 MiB bound, the reports beyond it dropped and counted.
 */
import t from 'tap';
import { tmpdir } from 'node:os';
import { connect as tcpConnect, createServer, type Socket } from 'node:net';
import { once } from 'node:events';
import { defaultModelPath } from '../../runtime/model/default-model';
import { DROPPABLE_BUFFER_BYTES } from '../../runtime/service/connection';
import { client } from './helpers';
import { metric, mosquitto, noMosquitto, service } from '../security/harness';

t.setTimeout(180_000);

t.test('error reports do not queue without bound while the broker does not read', { skip: noMosquitto }, async (t) => {
  const broker = await mosquitto(tmpdir(), ['allow_anonymous true', 'max_queued_messages 1000000']);
  t.teardown(() => broker.stop());
  // service -> proxy -> Mosquitto; `hold` stops reading the service's side (the broker's answers still flow back).
  const sockets: Socket[] = [];
  let held: Socket | undefined;
  const proxy = createServer((down) => {
    const up = tcpConnect(broker.port, '127.0.0.1');
    sockets.push(down, up);
    up.pipe(down);
    down.pipe(up);
    held = down;
  });
  proxy.listen(0, '127.0.0.1');
  await once(proxy, 'listening');
  const port = (proxy.address() as { port: number }).port;
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    proxy.close();
  });
  const { svc } = await service(defaultModelPath(), `mqtt://127.0.0.1:${port}`, ['--input', 'bound/+/in', '--qos', '1', '--log-level', 'error']);
  t.teardown(() => svc.stop());
  const pub = await client(broker.url, 'bound-pub');
  t.teardown(() => pub.endAsync());
  await pub.publishAsync('bound/d/in', 'not json', { qos: 0 });
  const invalidReach = async (n: number, ms: number): Promise<void> => {
    const end = Date.now() + ms;
    while ((await metric(svc, 'edgelstm_messages_invalid_total')) < n) {
      if (Date.now() > end) throw new Error(`${n} rejections not counted within ${ms} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  await invalidReach(1, 20_000);
  // From here the broker reads nothing more from the service.
  held!.unpipe();
  held!.pause();
  const N = 60_000;
  const topic = `bound/${'d'.repeat(200)}/in`;
  for (let i = 0; i < N; i++) pub.publish(topic, `not json ${i}`, { qos: 0 });
  await invalidReach(N + 1, 120_000);
  const buffered = await metric(svc, 'edgelstm_socket_write_buffered_bytes');
  const dropped = await metric(svc, 'edgelstm_error_reports_dropped_total');
  t.equal(await metric(svc, 'edgelstm_messages_invalid_total', 'code="E_PAYLOAD"'), N + 1, 'every rejected reading counted');
  t.ok(buffered <= DROPPABLE_BUFFER_BYTES + (2 << 20), `bytes waiting for the socket stay near the bound (${buffered})`);
  t.ok(dropped > 0, `reports beyond the bound dropped and counted (${dropped})`);
});
