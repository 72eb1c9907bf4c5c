/**
 * Issue 14, deliver 3: SIGTERM while readings are still pending, queued in the service and in flight from the
 * broker (sent, not yet acknowledged). The service must exit 0 within --stop-timeout-s with its final snapshot,
 * and no QoS 1 reading may be lost: each is answered before the exit, or the broker redelivers it on the next
 * start and it is answered then.
 */
import t from 'tap';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { tempDir, writeTestModel } from '../helpers/models';
import { until } from '../service/helpers';
import { listener, mosquitto, noMosquitto, runService } from './harness';

t.setTimeout(300_000);
const dir = tempDir('edgelstm-sec-pending-');
const modelPath = writeTestModel(dir);

t.test('SIGTERM with readings queued and in flight: exit 0 in time, snapshot written, every reading answered now or after the restart', { skip: noMosquitto }, async (t) => {
  const broker = await mosquitto(dir, ['allow_anonymous true', 'max_queued_messages 100000']);
  t.teardown(() => broker.stop());
  const state = join(dir, 'state.bin');
  const STOP_S = 5;
  const args = ['--broker', broker.url, '--client-id', 'pending-svc', '--state-file', state, '--snapshot-interval-s', '0', '--stop-timeout-s', String(STOP_S), '--queue-size', '500'];
  const { c: results, got } = await listener(broker.url, ['edgelstm/+/result']);
  t.teardown(() => results.endAsync());
  const first = runService(modelPath, args);
  t.teardown(() => first.p.kill('SIGKILL'));
  await until(() => first.log().includes('"subscribed"') || first.p.exitCode !== null, 60_000, 'service subscribed');

  const DEVICES = 50;
  const PER = 200;
  const N = DEVICES * PER;
  const ts0 = Date.now() - 3_600_000;
  const pub = await mqtt.connectAsync(broker.url, { clientId: 'pending-pub' });
  t.teardown(() => pub.endAsync());
  const sending: Promise<unknown>[] = [];
  for (let i = 0; i < PER; i++) for (let d = 0; d < DEVICES; d++) sending.push(pub.publishAsync(`sensors/p${d}/telemetry`, JSON.stringify({ ts: ts0 + i * 1000, value: Math.sin(i / 5) + d }), { qos: 1 }));
  await Promise.all(sending); // all with the broker: in flight to the service or queued for it
  await until(() => got.length >= 200, 60_000, 'the first results');

  const answeredBefore = got.length;
  // Mosquitto's own account (log_type all): readings it sent the service that the service has not acknowledged.
  const count = (re: RegExp): number => broker.log().match(re)?.length ?? 0;
  const inFlight = count(/Sending PUBLISH to pending-svc/g) - count(/Received PUBACK from pending-svc/g);
  const before = Date.now();
  const stop = await first.stop();
  t.ok(answeredBefore < N, `readings were pending at SIGTERM (${N - answeredBefore} of ${N} unanswered)`);
  t.ok(inFlight > 500, `more in flight from the broker (${inFlight}) than the service queues (--queue-size 500)`);
  t.equal(stop.code, 0, 'exit code 0');
  t.ok(stop.ms < STOP_S * 1000 + 2000, `exited in ${stop.ms} ms (deadline ${STOP_S * 1000} ms)`);
  t.ok(existsSync(state) && statSync(state).mtimeMs >= before - 10, 'the final snapshot was written during the shutdown');
  t.match(first.log(), /"stopped"/, 'the stop completed');
  const answeredAtExit = new Set(got.map(([, r]) => `${String(r['device'])}@${String(r['ts'])}`)).size;
  // Readings already delivered may all be answered within the deadline (the service drains its socket while it
  // stops): how many were left to the broker depends on the machine's speed, so it is reported, not asserted.
  t.comment(`${N - answeredAtExit} readings left to the broker at exit`);

  const second = runService(modelPath, args);
  t.teardown(() => second.p.kill('SIGKILL'));
  // Stopped only once it runs (a SIGTERM before its handlers are installed would end it by the signal).
  await until(() => second.log().includes('"subscribed"') || second.p.exitCode !== null, 60_000, 'the restarted service subscribed');
  const key = (r: Record<string, unknown>): string => `${String(r['device'])}@${String(r['ts'])}`;
  await until(() => new Set(got.map(([, r]) => key(r))).size >= N || second.p.exitCode !== null, 180_000, `all ${N} readings answered after the restart`);
  const answered = new Set(got.map(([, r]) => key(r)));
  let missing = 0;
  for (let i = 0; i < PER; i++) for (let d = 0; d < DEVICES; d++) if (!answered.has(`p${d}@${ts0 + i * 1000}`)) missing++;
  t.equal(missing, 0, `every QoS 1 reading answered (${answeredAtExit} before the SIGTERM's exit, the rest after the restart)`);
  t.equal((await second.stop()).code, 0);
});
