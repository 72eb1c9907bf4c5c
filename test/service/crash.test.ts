/**
 * Exact continuation after kill -9: the write-ahead journal. A real Mosquitto
 * on a free port, the service as its own process (the compiled CLI), killed
 * with SIGKILL while readings stream in; every reading published at QoS 1
 * yields a result and every result equals the one of an uninterrupted run.
 */
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { appendFileSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { Engine } from '../../runtime/engine/engine';
import type { Result } from '../../runtime/engine/sample';
import { loadModel } from '../../runtime/model/load-model';
import { Journal, readJournal } from '../../runtime/service/journal';
import { tempDir, writeTestModel } from '../helpers/models';
import { MOSQUITTO, freePort, startMosquitto, until } from './helpers';
import { isEpisodeEvent } from '../../runtime/engine/scoring/result-fields';

t.setTimeout(120_000);
const skip = existsSync(MOSQUITTO) ? false : 'mosquitto not installed';
const TS0 = 1_700_000_000_000;
// A spike now and then, so anomalies (published on a second topic) are part of what must match.
const value = (d: number, i: number): number => Math.sin(i / 6 + d) * 4 + 12 + (i % 97 === 41 ? 30 : 0);
const norm = { mode: 'per-device' as const, window: 100, minStd: 1e-3 };

interface Svc {
  p: ChildProcess;
  log: () => string;
}

async function startService(port: number, modelPath: string, stateFile: string, clientId: string, extra: string[] = [], metricsPort = 0): Promise<Svc> {
  const p = spawn(process.execPath, [
    'dist/runtime/cli/main.js', 'run',
    '--broker', `mqtt://127.0.0.1:${port}`, '--model', modelPath, '--client-id', clientId, '--qos', '1',
    '--state-file', stateFile, '--metrics-port', String(metricsPort), '--watch-model=false', '--reconnect-min-ms', '100', '--reconnect-max-ms', '1000',
    ...extra,
  ], { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  const add = (b: Buffer): void => {
    log += b.toString();
    if (process.env['TEST_LOG']) process.stderr.write(b);
  };
  p.stderr!.on('data', add);
  p.stdout!.on('data', add);
  await until(() => log.includes('"subscribed"') || p.exitCode !== null, 60_000, 'service subscribed');
  if (p.exitCode !== null) throw new Error(`service exited: ${log}`);
  return { p, log: () => log };
}

async function kill9(s: Svc): Promise<void> {
  s.p.kill('SIGKILL');
  if (s.p.exitCode === null && s.p.signalCode === null) await once(s.p, 'exit');
}

/** Every result message (duplicates included), by topic kind. */
async function subscribeResults(port: number, id: string): Promise<{ c: MqttClient; results: Result[]; anomalies: Result[] }> {
  const results: Result[] = [];
  const anomalies: Result[] = [];
  const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: id, clean: false, reconnectPeriod: 100 });
  c.on('message', (topic, p) => (topic.endsWith('/anomaly') ? anomalies : results).push(JSON.parse(p.toString()) as Result));
  await c.subscribeAsync(['edgelstm/+/result', 'edgelstm/+/anomaly'], { qos: 1 });
  return { c, results, anomalies };
}

/** What one uninterrupted engine gives, reading by reading. */
async function reference(modelPath: string, devices: number, steps: number): Promise<Map<string, Result>> {
  const model = await loadModel(modelPath);
  const e = new Engine(model, {});
  const out = new Map<string, Result>();
  for (let i = 0; i < steps; i++) for (let d = 0; d < devices; d++) {
    const r = await e.push({ device: `d${d}`, ts: TS0 + i * 1000, values: [value(d, i)] });
    out.set(`${r.device}@${r.ts}`, r);
  }
  await e.close();
  await model.release();
  return out;
}

/** Result messages whose content differs from the reference in any field (forecasts bit for bit). */
/** Results that differ from the uninterrupted run; a redelivered reading's result carries `redelivered: true` beside the same fields. */
function mismatches(got: Result[], ref: Map<string, Result>): string[] {
  const bad: string[] = [];
  for (const r of got) {
    const want = ref.get(`${r.device}@${r.ts}`);
    const { redelivered, ...same } = r as Result & { redelivered?: boolean };
    if (!want || JSON.stringify(want) !== JSON.stringify(same) || (redelivered !== undefined && redelivered !== true)) bad.push(`${r.device}@${(r.ts - TS0) / 1000}`);
  }
  return bad;
}

const redeliveredKeys = (rs: Result[]): string[] =>
  rs.filter((r) => (r as Result & { redelivered?: boolean }).redelivered === true).map((r) => `${r.device}@${(r.ts - TS0) / 1000}`).sort();

function replayedRecords(log: string): number[] {
  return [...log.matchAll(/"records":(\d+)[^\n]*journal replayed/g)].map((m) => Number(m[1]));
}

t.test('kill -9 twice mid-stream (one leaving a torn journal tail): every reading has its result, every result equals an uninterrupted run', { skip }, async (t) => {
  const DEVICES = 6;
  const STEPS = 360;
  const dir = tempDir('edgelstm-crash-');
  const modelPath = writeTestModel(dir, { normalization: norm });
  const stateFile = join(dir, 'state.bin');
  const port = await freePort();
  const broker = await startMosquitto(dir, port, ['allow_anonymous true', 'max_inflight_messages 1000', 'max_queued_messages 1000000']);
  t.teardown(() => broker.kill('SIGKILL'));
  const { c: sub, results, anomalies } = await subscribeResults(port, 'crash-results');
  t.teardown(() => sub.end(true));
  const pub = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: 'crash-pub', clean: false, reconnectPeriod: 100 });
  t.teardown(() => pub.end(true));
  const ref = await reference(modelPath, DEVICES, STEPS);
  const distinct = (): number => new Set(results.map((r) => `${r.device}@${r.ts}`)).size;

  // Snapshots every 0.3 s: the journal rotates while readings stream in.
  const extra = ['--snapshot-interval-s', '0.3'];
  let svc = await startService(port, modelPath, stateFile, 'crash-svc', extra);
  const logs: string[] = [];
  t.teardown(() => svc.p.kill('SIGKILL'));
  // Paced, so the kills land mid-stream: a step (one reading per device) every 4 ms.
  const publishing = (async () => {
    const acks: Promise<unknown>[] = [];
    for (let i = 0; i < STEPS; i++) {
      for (let d = 0; d < DEVICES; d++) acks.push(pub.publishAsync(`sensors/d${d}/telemetry`, JSON.stringify({ ts: TS0 + i * 1000, value: value(d, i) }), { qos: 1 }));
      await new Promise((r) => setTimeout(r, 4));
    }
    await Promise.all(acks);
  })();

  await until(() => distinct() >= (STEPS * DEVICES) / 4, 30_000, `a quarter of the results (have ${distinct()}; log: ${svc.log().slice(-3000)})`);
  await kill9(svc);
  logs.push(svc.log());
  svc = await startService(port, modelPath, stateFile, 'crash-svc', extra);

  await until(() => distinct() >= (STEPS * DEVICES) / 2, 30_000, 'half of the results');
  await kill9(svc);
  logs.push(svc.log());
  // As if the process died in the middle of writing a block: a length and half a block.
  const journalFile = `${stateFile}.journal`;
  const before = statSync(journalFile).size;
  appendFileSync(journalFile, Buffer.from([0x40, 0x00, 0x00, 0x00, 0x52, 0x02, 0x00, 0x64, 0x31]));
  svc = await startService(port, modelPath, stateFile, 'crash-svc', extra);
  t.match(svc.log(), /journal: torn tail dropped/, 'the torn tail is reported');
  t.equal(statSync(journalFile).size >= before, true, 'the complete blocks are kept');

  await publishing;
  await until(() => distinct() === STEPS * DEVICES, 60_000, `every result (have ${distinct()} of ${STEPS * DEVICES})`).catch(() => undefined);
  t.equal(distinct(), STEPS * DEVICES, 'every reading published at QoS 1 yielded a result');
  const bad = mismatches(results, ref);
  t.same(bad, [], `all ${results.length} result messages equal the uninterrupted run`);
  t.same(mismatches(anomalies, ref), [], `all ${anomalies.length} anomaly messages equal the uninterrupted run`);
  // The anomaly topic carries episode starts and ends (one event each), not every reading of an episode.
  const refEvents = [...ref.values()].filter((r) => isEpisodeEvent(r)).length;
  t.equal(new Set(anomalies.map((r) => `${r.device}@${r.ts}`)).size, refEvents, 'every episode start and end of the uninterrupted run published');
  svc.p.kill('SIGTERM');
  const [code] = (await once(svc.p, 'exit')) as [number];
  t.equal(code, 0, 'clean exit on SIGTERM');
  logs.push(svc.log());
  const replayed = logs.flatMap(replayedRecords);
  t.comment(`readings re-stepped from the journal at each restart: ${replayed.join(', ')}; ${results.length} result messages for ${STEPS * DEVICES} readings; ${anomalies.length} anomaly messages`);
  // Each restart either re-steps the journal or finds it already inside the snapshot (a kill right after a rotation).
  const restarts = logs.slice(1).map((l) => /journal replayed|journal not replayed: it extends an older snapshot/.test(l));
  t.same(restarts, [true, true], 'each restart accounted for the journal');
  t.ok(replayed.some((n) => n > 0), 'the restarts re-stepped journaled readings');
});

t.test('journaled, unacknowledged readings delivered again: stepped once, their result published; acknowledged ones not needed again', { skip }, async (t) => {
  const DEVICES = 3;
  const dir = tempDir('edgelstm-crash2-');
  const modelPath = writeTestModel(dir, { normalization: norm });
  const stateFile = join(dir, 'state.bin');
  const port = await freePort();
  const broker = await startMosquitto(dir, port, ['allow_anonymous true']);
  t.teardown(() => broker.kill('SIGKILL'));
  const { c: sub, results } = await subscribeResults(port, 'crash2-results');
  t.teardown(() => sub.end(true));
  const pub = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: 'crash2-pub', reconnectPeriod: 100 });
  t.teardown(() => pub.end(true));
  const publish = (from: number, to: number): Promise<unknown> => {
    const ps: Promise<unknown>[] = [];
    for (let i = from; i < to; i++) for (let d = 0; d < DEVICES; d++) ps.push(pub.publishAsync(`sensors/d${d}/telemetry`, JSON.stringify({ ts: TS0 + i * 1000, value: value(d, i) }), { qos: 1 }));
    return Promise.all(ps);
  };
  const ref = await reference(modelPath, DEVICES, 20);

  let svc = await startService(port, modelPath, stateFile, 'crash2-svc', ['--snapshot-interval-s', '0']);
  t.teardown(() => svc.p.kill('SIGKILL'));
  await publish(0, 10);
  await until(() => results.length >= 10 * DEVICES, 20_000, 'first results');
  svc.p.kill('SIGTERM');
  await once(svc.p, 'exit');

  // What a crash leaves: readings 10-14 journaled (stepped) after the snapshot; the PUBACKs of 10 and 11 went
  // out, those of 12-14 did not, so the broker delivers 12-14 again, followed by the new readings 15-19.
  const jfile = `${stateFile}.journal`;
  const j = Journal.continue(jfile, readJournal(jfile).validBytes);
  for (let i = 10; i < 15; i++) for (let d = 0; d < DEVICES; d++) j.append(`d${d}`, TS0 + i * 1000, [value(d, i)]);
  await j.sync();
  await j.close();
  appendFileSync(jfile, Buffer.from([0x10, 0x00])); // and a torn tail
  await publish(12, 20);
  results.length = 0;

  const metricsPort = await freePort();
  svc = await startService(port, modelPath, stateFile, 'crash2-svc', ['--snapshot-interval-s', '0'], metricsPort);
  await until(() => results.length >= 8 * DEVICES, 20_000, 'results after the restart');
  await new Promise((r) => setTimeout(r, 300)); // any extra (double) result would show up now
  t.match(svc.log(), /"records":15[^\n]*journal replayed/, 'the 15 journaled readings were stepped again');
  t.match(svc.log(), /journal: torn tail dropped/);
  const keys = results.map((r) => `${r.device}@${(r.ts - TS0) / 1000}`).sort();
  const want: string[] = [];
  for (let i = 12; i < 20; i++) for (let d = 0; d < DEVICES; d++) want.push(`d${d}@${i}`);
  t.same(keys, want.sort(), 'one result per delivered reading (12-19), none for the acknowledged 10 and 11');
  t.same(mismatches(results, ref), [], 'redelivered readings answered with the replayed result; the next ones continue exactly (nothing stepped twice)');
  const again: string[] = [];
  for (let i = 12; i < 15; i++) for (let d = 0; d < DEVICES; d++) again.push(`d${d}@${i}`);
  t.same(redeliveredKeys(results), again.sort(), 'the results of the redelivered readings (12-14), and only those, are flagged redelivered');
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  t.match(text, new RegExp(`edgelstm_duplicates_total ${3 * DEVICES}\\b`), 'the redelivered readings were recognized as already stepped');
  svc.p.kill('SIGTERM');
  await once(svc.p, 'exit');
});
