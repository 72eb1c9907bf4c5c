import t from 'tap';
import { existsSync } from 'node:fs';
import mqtt, { type MqttClient } from 'mqtt';
import { get } from 'sparkplug-payload';
import type { UMetric, UPayload } from 'sparkplug-payload/lib/sparkplugbpayload';
import type { Result } from '../../runtime/engine/sample';
import type { MqttService } from '../../runtime/service/service';
import { tempDir, writeTestModel } from '../helpers/models';
import { freePort, MOSQUITTO, startMosquitto, startService, until } from '../service/helpers';

// Sparkplug B messages made by Eclipse Tahu's codec (sparkplug-payload), through a real Mosquitto, to the service.
t.setTimeout(110_000);
const tahu = get('spBv1.0')!;
const dir = tempDir('edgelstm-sparkplug-');
const modelPath = writeTestModel(dir, { features: ['temp', 'pressure'], normalization: { mode: 'per-device', window: 100, minStd: 1e-3 } });
const skip = existsSync(MOSQUITTO) ? false : 'mosquitto not installed';
const TS0 = 1_760_000_000_000;
const temp = (i: number): number => 20 + Math.sin(i / 3) * 2;
const pressure = (i: number): number => 1 + Math.cos(i / 5) * 0.1;
const DEVICE = 'Plant/Edge1/Pump';

async function untilAsync(cond: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Sparkplug events counted by the service (edgelstm_sparkplug_events_total). */
async function events(svc: MqttService): Promise<Record<string, number>> {
  const m = await svc.metrics.registry.getSingleMetric('edgelstm_sparkplug_events_total')!.get();
  return Object.fromEntries(m.values.map((v) => [String(v.labels['event']), v.value]));
}

async function invalid(svc: MqttService, code: string): Promise<number> {
  const m = await svc.metrics.registry.getSingleMetric('edgelstm_messages_invalid_total')!.get();
  return m.values.find((v) => v.labels['code'] === code)?.value ?? 0;
}

function encode(seq: number | undefined, metrics: UMetric[], ts = Date.now()): Buffer {
  const p: UPayload = { timestamp: ts, metrics, ...(seq !== undefined ? { seq } : {}) };
  return Buffer.from(tahu.encodePayload(p));
}

/** An edge node `Plant/Edge1` with device `Pump`, its will an NDEATH of bdSeq 0. */
async function edgeNode(url: string, bdSeq: number): Promise<{ c: MqttClient; seq: () => number }> {
  const c = await mqtt.connectAsync(url, { clientId: `edge-${Math.random()}`, reconnectPeriod: 0, will: { topic: 'spBv1.0/Plant/NDEATH/Edge1', payload: encode(undefined, [{ name: 'bdSeq', type: 'Int64', value: bdSeq }]), qos: 1, retain: false } });
  let seq = -1;
  return { c, seq: () => (seq = (seq + 1) & 255) };
}

t.test('--payload sparkplug: births, aliases, metric timestamps; results equal to the JSON path; every fault counted', { skip }, async (t) => {
  const port = await freePort();
  const broker = await startMosquitto(dir, port, ['allow_anonymous true']);
  t.teardown(() => broker.kill('SIGKILL'));
  const url = `mqtt://127.0.0.1:${port}`;
  const sp = await startService(modelPath, ['--broker', url, '--client-id', 'sp-svc', '--name', 'sp-svc', '--payload', 'sparkplug', '--sparkplug-metrics', 'pressure=Sensors/Pressure', '--sparkplug-rebirth-interval-s', '0']);
  t.teardown(() => sp.stop());
  // The same readings as JSON to a second service: its results are the reference.
  const js = await startService(modelPath, ['--broker', url, '--client-id', 'json-svc', '--name', 'json-svc', '--input', 'json/telemetry', '--output', 'jsonres/{device}/result', '--anomaly-topic', 'jsonres/{device}/anomaly']);
  t.teardown(() => js.stop());

  const obs = await mqtt.connectAsync(url, { clientId: 'observer' });
  t.teardown(() => obs.endAsync());
  const spResults: Result[] = [];
  const jsResults: Result[] = [];
  const rebirths: string[] = [];
  obs.on('message', (topic, payload) => {
    if (topic.startsWith('edgelstm/')) spResults.push(JSON.parse(payload.toString()) as Result);
    else if (topic.startsWith('jsonres/')) jsResults.push(JSON.parse(payload.toString()) as Result);
    else if (topic.includes('/NCMD/')) {
      const m = tahu.decodePayload(payload).metrics ?? [];
      if (m.some((x) => x.name === 'Node Control/Rebirth' && x.value === true)) rebirths.push(topic);
    }
  });
  await obs.subscribeAsync({ 'edgelstm/+/result': { qos: 1 }, 'jsonres/+/result': { qos: 1 }, 'spBv1.0/+/NCMD/+': { qos: 0 } });

  let edge = await edgeNode(url, 0);
  const DDATA = 'spBv1.0/Plant/DDATA/Edge1/Pump';
  /** Reading i by alias (odd i) or by name (even i), metric timestamps; the payload's own timestamp is another. */
  const data = (i: number, seq = edge.seq()): Buffer => encode(seq, [
    i % 2 ? { alias: 1, type: 'Double', value: temp(i), timestamp: TS0 + i * 1000 } as UMetric : { name: 'temp', type: 'Double', value: temp(i), timestamp: TS0 + i * 1000 },
    i % 2 ? { alias: 2, type: 'Float', value: pressure(i), timestamp: TS0 + i * 1000 } as UMetric : { name: 'Sensors/Pressure', type: 'Float', value: pressure(i), timestamp: TS0 + i * 1000 },
    { name: 'Status', type: 'String', value: 'running' },
  ]);
  const f32 = (x: number): number => Math.fround(x);

  // 1. DDATA with aliases before any birth certificate: dropped, counted, a rebirth requested.
  await edge.c.publishAsync(DDATA, encode(7, [{ alias: 1, type: 'Double', value: 1 } as UMetric]), { qos: 0 });
  await until(() => rebirths.length >= 1, 10_000, 'rebirth request');
  t.same(rebirths, ['spBv1.0/Plant/NCMD/Edge1'], 'NCMD Node Control/Rebirth to the edge node');
  t.equal((await events(sp))['no_birth'], 1);

  // 2. Births (NBIRTH seq 0 with bdSeq; DBIRTH announcing aliases and current values).
  await edge.c.publishAsync('spBv1.0/Plant/NBIRTH/Edge1', encode(edge.seq(), [{ name: 'bdSeq', type: 'Int64', value: 0 }, { name: 'Node Control/Rebirth', type: 'Boolean', value: false }]), { qos: 0 });
  await edge.c.publishAsync('spBv1.0/Plant/DBIRTH/Edge1/Pump', encode(edge.seq(), [
    { name: 'temp', alias: 1, type: 'Double', value: 19 } as UMetric,
    { name: 'Sensors/Pressure', alias: 2, type: 'Float', value: 1 } as UMetric,
    { name: 'Status', alias: 3, type: 'String', value: 'starting' } as UMetric,
  ]), { qos: 0 });

  // 3. Readings as Sparkplug and as JSON (pressure goes as a Float: the JSON side gets the same float32 value).
  const sent: number[] = [];
  const both = async (i: number): Promise<void> => {
    await edge.c.publishAsync(DDATA, data(i), { qos: 0 });
    await obs.publishAsync('json/telemetry', JSON.stringify({ device: DEVICE, ts: TS0 + i * 1000, temp: temp(i), pressure: f32(pressure(i)) }), { qos: 1 });
    sent.push(i);
  };
  for (let i = 0; i < 20; i++) await both(i);
  // Report by exception: one DDATA holding two timestamps of temp only; pressure keeps its last value.
  await edge.c.publishAsync(DDATA, encode(edge.seq(), [
    { alias: 1, type: 'Double', value: temp(21), timestamp: TS0 + 21_000 } as UMetric,
    { name: 'temp', type: 'Double', value: temp(20), timestamp: TS0 + 20_000 },
  ]), { qos: 0 });
  for (const i of [20, 21]) await obs.publishAsync('json/telemetry', JSON.stringify({ device: DEVICE, ts: TS0 + i * 1000, temp: temp(i), pressure: f32(pressure(19)) }), { qos: 1 });
  await until(() => spResults.length >= 22 && jsResults.length >= 22, 20_000, '22 results on both paths');

  // 4. Faults: none changes the device's state.
  const before = await events(sp);
  await edge.c.publishAsync(DDATA, Buffer.from([0x12, 0x7f, 0x01, 0x02]), { qos: 0 }); // bad payload
  await edge.c.publishAsync(DDATA, encode(edge.seq(), [{ alias: 99, type: 'Double', value: 5 } as UMetric]), { qos: 0 }); // unknown alias
  await edge.c.publishAsync(DDATA, encode(edge.seq(), [{ name: 'temp', type: 'String', value: 'hot' }]), { qos: 0 }); // a mapped metric that is no number
  await edge.c.publishAsync('spBv1.0/Plant/NDEATH/Edge1', encode(undefined, [{ name: 'bdSeq', type: 'Int64', value: 5 }]), { qos: 0 }); // an old session's will
  await untilAsync(async () => (await events(sp))['unknown_alias'] === before['unknown_alias']! + 1 && (await invalid(sp, 'E_PAYLOAD')) >= 2 && (await events(sp))['stale_death'] === 1, 10_000, 'faults counted');
  const ev = await events(sp);
  t.equal(ev['bad_payload']! - before['bad_payload']!, 2, 'the undecodable payload and the string value: bad_payload');
  t.equal(ev['unknown_alias']! - before['unknown_alias']!, 1, 'unknown alias counted');
  t.equal(ev['stale_death'], 1, 'an NDEATH with another bdSeq is an old will: ignored');
  t.equal(await invalid(sp, 'E_SPARKPLUG'), 2, 'no birth and unknown alias: E_SPARKPLUG');
  await until(() => rebirths.length >= 2, 10_000, 'the unknown alias asked for a rebirth');

  // Sequence gap: the message is kept, a rebirth requested.
  edge.seq(); // one lost message
  await both(22);
  await untilAsync(async () => (await events(sp))['seq_gap'] === 1, 10_000, 'seq gap counted');

  // DDEATH: the device goes offline; its data is dropped until a DBIRTH; its model state is kept.
  await edge.c.publishAsync('spBv1.0/Plant/DDEATH/Edge1/Pump', encode(edge.seq(), []), { qos: 0 });
  await edge.c.publishAsync(DDATA, data(99), { qos: 0 });
  await untilAsync(async () => (await events(sp))['no_birth'] === 2, 10_000, 'data after DDEATH dropped');
  await edge.c.publishAsync('spBv1.0/Plant/DBIRTH/Edge1/Pump', encode(edge.seq(), [
    { name: 'temp', alias: 1, type: 'Double', value: temp(22) } as UMetric,
    { name: 'Sensors/Pressure', alias: 2, type: 'Float', value: pressure(22) } as UMetric,
  ]), { qos: 0 });
  for (let i = 23; i < 26; i++) await both(i);

  // The seq wraps 255 -> 0: no gap.
  for (let s = edge.seq(); ; s = edge.seq()) {
    await edge.c.publishAsync('spBv1.0/Plant/NDATA/Edge1', encode(s, [{ name: 'Uptime', type: 'Int64', value: s }]), { qos: 0 });
    if (s === 255) break;
  }
  await both(26); // seq 0
  await until(() => spResults.length >= 27 && jsResults.length >= 27, 20_000, '27 results on both paths');
  t.equal((await events(sp))['seq_gap'], 1, '255 -> 0 is no gap');

  // Results: the same readings give the same values, forecasts and scores on both paths.
  const key = (r: Result): string => `${r.device}@${r.ts}`;
  const ref = new Map(jsResults.map((r) => [key(r), r]));
  t.equal(spResults.length, 27, 'one result per reading; births, deaths and refused messages gave none');
  for (const r of spResults) {
    const j = ref.get(key(r));
    t.ok(j, `JSON result for ${key(r)}`);
    if (!j) continue;
    t.same({ ...r, model: '' }, { ...j, model: '' }, `ts ${r.ts}: equal`);
  }
  t.same(spResults.map((r) => r.ts), Array.from({ length: 27 }, (_, i) => TS0 + i * 1000), 'metric timestamps taken');
  t.equal(spResults[0]!.device, DEVICE);

  // NDEATH by the edge node's will (connection lost): node and devices offline, data dropped until NBIRTH.
  const noBirth = (await events(sp))['no_birth']!;
  edge.c.stream.destroy();
  await untilAsync(async () => (await events(sp))['death'] === 2, 10_000, 'NDEATH from the will'); // DDEATH + NDEATH
  edge = await edgeNode(url, 1);
  t.teardown(() => edge.c.endAsync());
  await edge.c.publishAsync(DDATA, data(40, 1), { qos: 0 });
  await untilAsync(async () => (await events(sp))['no_birth'] === noBirth + 1, 10_000, 'data after NDEATH dropped');
  const final = await events(sp);
  t.equal(final['birth'], 3, 'NBIRTH, DBIRTH, DBIRTH again');
  t.equal(spResults.length, 27, 'dropped messages gave no result');
});

t.test('--result-format sparkplug: NBIRTH/DBIRTH/DDATA of edgelstm\'s edge node, seq in order, rebirth on NCMD, NDEATH at stop', { skip }, async (t) => {
  const port = await freePort();
  const broker = await startMosquitto(dir, port, ['allow_anonymous true'], 'out.conf');
  t.teardown(() => broker.kill('SIGKILL'));
  const url = `mqtt://127.0.0.1:${port}`;
  const obs = await mqtt.connectAsync(url, { clientId: 'observer2' });
  t.teardown(() => obs.endAsync());
  const msgs: { topic: string; p: UPayload }[] = [];
  const jsResults: Result[] = [];
  obs.on('message', (topic, payload) => {
    if (topic.startsWith('spBv1.0/')) msgs.push({ topic, p: tahu.decodePayload(payload) });
    else jsResults.push(JSON.parse(payload.toString()) as Result);
  });
  await obs.subscribeAsync({ 'spBv1.0/#': { qos: 1 }, 'jsonres/+/result': { qos: 1 } });
  const out = await startService(modelPath, ['--broker', url, '--client-id', 'sp-out', '--name', 'gw1', '--input', 'in/{device}', '--result-format', 'sparkplug', '--sparkplug-group', 'Analytics']);
  let stopped = false;
  t.teardown(() => (stopped ? undefined : out.stop()));
  const js = await startService(modelPath, ['--broker', url, '--client-id', 'json-out', '--name', 'json-out', '--input', 'in/{device}', '--output', 'jsonres/{device}/result', '--anomaly-topic', 'jsonres/{device}/anomaly']);
  t.teardown(() => js.stop());
  for (let i = 0; i < 6; i++) await obs.publishAsync('in/pump-1', JSON.stringify({ ts: TS0 + i * 1000, temp: temp(i), pressure: pressure(i) }), { qos: 1 });
  await until(() => msgs.filter((m) => m.topic.includes('/DDATA/')).length >= 6 && jsResults.length >= 6, 20_000, 'DDATA and JSON results');
  await obs.publishAsync('spBv1.0/Analytics/NCMD/gw1', Buffer.from(tahu.encodePayload({ timestamp: Date.now(), metrics: [{ name: 'Node Control/Rebirth', type: 'Boolean', value: true }] })), { qos: 0 });
  await until(() => msgs.filter((m) => m.topic.includes('/NBIRTH/')).length >= 2, 10_000, 'NBIRTH after the rebirth command');
  await until(() => msgs.filter((m) => m.topic.includes('/DBIRTH/')).length >= 2, 10_000, 'DBIRTH after the rebirth command');
  await out.stop();
  stopped = true;
  await until(() => msgs.some((m) => m.topic.includes('/NDEATH/')), 10_000, 'NDEATH at stop');

  const own = msgs.filter((m) => m.topic.startsWith('spBv1.0/Analytics/') && !m.topic.includes('/NCMD/'));
  t.same(own.map((m) => m.topic.split('/')[2]), ['NBIRTH', 'DBIRTH', 'DDATA', 'DDATA', 'DDATA', 'DDATA', 'DDATA', 'DDATA', 'NBIRTH', 'DBIRTH', 'NDEATH']);
  t.same(own.filter((m) => m.topic.includes('/DDATA/')).map((m) => m.topic), Array(6).fill('spBv1.0/Analytics/DDATA/gw1/pump-1'));
  const seqs = own.filter((m) => !m.topic.includes('/NDEATH/')).map((m) => Number(m.p.seq));
  t.same(seqs, [0, 1, 2, 3, 4, 5, 6, 7, 0, 1], 'seq from 0 at each NBIRTH, one step per message');
  const metric = (p: UPayload, name: string): unknown => {
    const v = p.metrics?.find((m) => m.name === name)?.value;
    return v !== null && typeof v === 'object' && 'toNumber' in v ? (v as { toNumber(): number }).toNumber() : v;
  };
  t.equal(metric(own[0]!.p, 'bdSeq'), 0, 'NBIRTH bdSeq');
  t.equal(metric(own[10]!.p, 'bdSeq'), 0, 'NDEATH bdSeq matches the session\'s NBIRTH');
  const byTs = new Map(jsResults.map((r) => [r.ts, r]));
  for (const m of own.filter((x) => x.topic.includes('/DDATA/'))) {
    const ts = Number(m.p.metrics!.find((x) => x.name === 'forecast/temp')!.timestamp);
    const j = byTs.get(ts)!;
    t.equal(metric(m.p, 'forecast/temp'), j.forecast[0], `forecast/temp at ${ts}`);
    t.equal(metric(m.p, 'forecast/pressure'), j.forecast[1]);
    t.equal(metric(m.p, 'value/temp'), j.values[0]);
    t.equal(metric(m.p, 'likelihood'), j.likelihood);
    t.equal(metric(m.p, 'anomaly'), j.anomaly);
  }
});
