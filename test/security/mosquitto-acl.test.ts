import t from 'tap';
import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { tempDir } from '../helpers/models';
import { until } from '../service/helpers';
import { mosquitto, noMosquitto } from './harness';

// The README's broker lock (deploy/mosquitto/acl) in a real Mosquitto: only the operator reaches the control topics.

t.setTimeout(60_000);
const dir = tempDir('edgelstm-sec-acl-');
const acl = resolve('deploy/mosquitto/acl');
const passwd = join(dir, 'passwd');

t.test('deploy/mosquitto/acl: sensors, viewers and gateways cannot publish model requests; the operator can', { skip: noMosquitto }, async (t) => {
  for (const [i, u] of ['operator', 'sensor', 'viewer', 'gw-17'].entries()) execFileSync('mosquitto_passwd', [...(i === 0 ? ['-c'] : []), '-b', passwd, u, `pw-${u}`]);
  const broker = await mosquitto(dir, ['allow_anonymous false', `password_file ${passwd}`, `acl_file ${acl}`]);
  t.teardown(() => broker.stop());
  const as = async (u: string): Promise<MqttClient> => mqtt.connectAsync(broker.url, { username: u, password: `pw-${u}`, clientId: `${u}-${Math.random()}`, protocolVersion: 5, reconnectPeriod: 0 });
  const gw = await as('gw-17');
  const op = await as('operator');
  const clients = [gw, op];
  t.teardown(() => Promise.all(clients.map((c) => c.endAsync())));
  const gwGot: string[] = [];
  const opGot: string[] = [];
  gw.on('message', (topic, p) => gwGot.push(`${topic} ${p.toString()}`));
  op.on('message', (topic, p) => opGot.push(`${topic} ${p.toString()}`));
  await gw.subscribeAsync(['edgelstm/gw-17/control/model', 'edgelstm/control/model', 'sensors/+/telemetry'], { qos: 1 });
  await op.subscribeAsync('edgelstm/#', { qos: 1 });
  t.rejects(mqtt.connectAsync(broker.url, { reconnectPeriod: 0, clientId: 'anon' }), 'anonymous clients refused');

  for (const u of ['sensor', 'viewer', 'gw-17']) {
    const c = u === 'gw-17' ? gw : await as(u);
    if (c !== gw) clients.push(c);
    // MQTT 5: a refused publish is answered with "not authorized" (0x87) and never delivered.
    for (const topic of ['edgelstm/gw-17/control/model', 'edgelstm/control/model']) {
      const err = await c.publishAsync(topic, `{"url":"https://evil/m.onnx","from":"${u}"}`, { qos: 1 }).then(() => undefined, (e: Error) => e);
      t.match(String(err?.message ?? 'delivered?'), /not authori[sz]ed|135/i, `${u} may not publish ${topic}`);
    }
  }
  const sensor = clients[2]!;
  await sensor.publishAsync('sensors/p1/telemetry', '21.4', { qos: 1 });
  await op.publishAsync('edgelstm/gw-17/control/model', '{"from":"operator"}', { qos: 1 });
  await op.publishAsync('edgelstm/other-gw/control/model', '{"from":"operator","for":"other"}', { qos: 1 });
  await until(() => gwGot.length >= 2 && opGot.some((m) => m.includes('operator')), 10_000, 'the allowed messages');
  await new Promise((r) => setTimeout(r, 300));
  t.same(gwGot.sort(), ['edgelstm/gw-17/control/model {"from":"operator"}', 'sensors/p1/telemetry 21.4'], 'the gateway gets readings and its own control topic from the operator, nothing else');
  t.notOk(opGot.some((m) => /"from":"(sensor|viewer|gw-17)"/.test(m)), 'no refused request reached anyone');
});
