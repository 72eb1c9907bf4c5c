import t from 'tap';
import type { IPublishPacket } from 'mqtt-packet';
import { parsePackets } from '../helpers/packets';
import { PacketBatch } from '../../runtime/service/packet-batch';
import { compileTopicTemplate } from '../../runtime/service/topic-template';
import { ServiceMetrics } from '../../runtime/service/metrics';
import { resultJson } from '../../runtime/engine/result-json';
import { decodePayload, type DecodedReading } from '../../runtime/reading/payload';
import type { EdgeLstmError } from '../../runtime/errors';
import { Engine } from '../../runtime/engine/engine';
import { loadModel } from '../../runtime/model/load-model';
import { tempDir, writeTestModel } from '../helpers/models';

const parse = parsePackets;

t.test('PacketBatch encodes PUBLISH and PUBACK packets that a real MQTT parser reads back exactly', async (t) => {
  for (const v of [4, 5] as const) {
    const b = new PacketBatch(v, 16); // tiny start: growth is exercised
    const cases: [string, string, 0 | 1, number][] = [
      ['edgelstm/pump-7/result', '{"device":"pump-7","ts":1}', 1, 1],
      ['edgelstm/d/result', 'x'.repeat(200), 0, 0], // remaining length needs 2 bytes
      ['edgelstm/pompe-été/result', '{"device":"pompe-été","v":"µ"}', 1, 65535], // UTF-8 topic and payload
      ['a', 'y'.repeat(20_000), 1, 258], // 3-byte remaining length
      ['edgelstm/😀/anomaly', '', 1, 7],
    ];
    for (const [topic, payload, qos, id] of cases) b.publish(topic, payload, qos, id);
    b.puback(513);
    t.equal(b.count, cases.length + 1);
    const got = parse(b.take(), v);
    t.equal(b.count, 0, 'take empties the batch');
    t.equal(got.length, cases.length + 1, `v${v}: every packet parsed`);
    cases.forEach(([topic, payload, qos, id], i) => {
      const p = got[i] as IPublishPacket;
      t.equal(p.cmd, 'publish');
      t.equal(p.topic, topic, `v${v} topic ${i}`);
      t.equal(p.payload.toString('utf8'), payload, `v${v} payload ${i}`);
      t.equal(p.qos, qos);
      t.equal(p.retain, false);
      if (qos === 1) t.equal(p.messageId, id);
    });
    const ack = got[cases.length]!;
    t.equal(ack.cmd, 'puback');
    t.equal((ack as { messageId?: number }).messageId, 513);
  }
});

/** The template matcher as it was (split per message): the fast one must agree with it on every topic. */
function referenceMatch(template: string, topic: string): Record<string, string> | undefined {
  const kinds = template.split('/');
  const parts = topic.split('/');
  const out: Record<string, string> = {};
  for (let i = 0; i < kinds.length; i++) {
    const k = kinds[i]!;
    if (k === '#') return out;
    const p = parts[i];
    if (p === undefined) return undefined;
    if (k === '+') continue;
    const m = /^\{(\w+)\}$/.exec(k);
    if (m) {
      if (p.length === 0) return undefined;
      out[m[1]!] = p;
    } else if (k !== p) return undefined;
  }
  return parts.length === kinds.length ? out : undefined;
}

t.test('topic templates: the level walker matches exactly what splitting the topic matches', async (t) => {
  const templates = ['sensors/{device}/telemetry', 'plant/{site}/{device}/{feature}', 'a/+/{device}', 'x/{device}/#', '{device}', 'a//{device}'];
  const levels = ['', 'a', 'x', 'sensors', 'telemetry', 'plant', 'p1', 'dev-7', 'été', 'a b'];
  let seed = 42;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  let checked = 0;
  let matched = 0;
  for (const tpl of templates) {
    const c = compileTopicTemplate(tpl);
    // Topics built from the template itself (mostly matching) and random ones (mostly not).
    for (let i = 0; i < 600; i++) {
      const n = 1 + rnd(5);
      const topic = i % 2 === 0
        ? tpl.split('/').map((k) => (k.startsWith('{') || k === '+' ? levels[rnd(levels.length)]! : k === '#' ? Array.from({ length: rnd(3) }, () => levels[rnd(levels.length)]).join('/') : k)).join('/')
        : Array.from({ length: n }, () => levels[rnd(levels.length)]!).join('/');
      const want = referenceMatch(tpl, topic);
      t.same(c.match(topic), want, `${tpl} ~ ${JSON.stringify(topic)}`, { diagnostic: false });
      checked++;
      if (want) matched++;
    }
  }
  t.ok(matched > 500 && checked - matched > 500, `both outcomes exercised (${matched} of ${checked} matched)`);
});

t.test('topic templates: fillDevice is fill with the device added, unsafe characters replaced', async (t) => {
  for (const tpl of ['edgelstm/{device}/result', 'out/{site}/{device}', 'fixed/topic', '{device}']) {
    const c = compileTopicTemplate(tpl, 'output');
    for (const device of ['pump-7', 'a/b', 'x+y#z', '', 'été', 'nul\u0000']) {
      const params = { site: 's1', device: 'ignored' };
      t.equal(c.fillDevice(params, device), c.fill({ ...params, device }), `${tpl} with ${JSON.stringify(device)}`);
    }
  }
  t.equal(compileTopicTemplate('edgelstm/{device}/result').fillDevice({}, 'a/b+#'), 'edgelstm/a_b__/result');
});

t.test('topic templates: fillDevice, kept per device, answers each device with its own topic, past the bound of what it keeps', async (t) => {
  const c = compileTopicTemplate('edgelstm/{device}/result', 'output');
  let wrong = 0;
  let first = '';
  // Twice over 70,000 devices (more than are kept): every topic is the one of its device, whether kept or built again.
  for (let round = 0; round < 2; round++) {
    for (let d = 0; d < 70_000; d++) {
      const device = d % 7 === 0 ? `dév/${d}+#` : `dev-${d}`;
      const want = `edgelstm/${device.replace(/[/+#]/g, '_')}/result`;
      const got = c.fillDevice({}, device);
      if (got !== want) {
        wrong++;
        first ||= `${device}: ${got}`;
      }
    }
  }
  t.equal(wrong, 0, first || 'every topic its device\'s');
  // Two templates keep apart what they built.
  const a = compileTopicTemplate('a/{device}', 'output');
  const b = compileTopicTemplate('b/{device}/x', 'output');
  t.equal(a.fillDevice({}, 'p'), 'a/p');
  t.equal(b.fillDevice({}, 'p'), 'b/p/x');
  t.equal(a.fillDevice({}, 'p'), 'a/p');
});

t.test('metrics: per-message counters and gauges are exact when read', async (t) => {
  const m = new ServiceMetrics();
  for (let i = 0; i < 1000; i++) m.messagesIn.inc();
  m.messagesIn.inc(5);
  m.invalid.inc({ code: 'E_PAYLOAD' });
  m.invalid.inc({ code: 'E_PAYLOAD' }, 2);
  m.queueDepth.set(3);
  m.queueDepth.set(9);
  t.throws(() => m.resultsOut.inc(-1), 'a counter still refuses to go down');
  const text = await m.registry.metrics();
  t.match(text, /^edgelstm_messages_in_total 1005$/m);
  t.match(text, /^edgelstm_messages_invalid_total\{code="E_PAYLOAD"\} 3$/m);
  t.match(text, /^edgelstm_queue_depth 9$/m);
  m.messagesIn.inc();
  t.equal((await m.messagesIn.get()).values[0]?.value, 1006, 'get() sees increments made since the last scrape');
});

t.test('result payloads: resultJson writes exactly what JSON.stringify writes, for real engine results', async (t) => {
  const dir = tempDir('edgelstm-json-');
  const model = await loadModel(writeTestModel(dir, { normalization: { mode: 'per-device', window: 100, minStd: 1e-3 } }), { backend: 'native' });
  t.teardown(() => model.release());
  const e = new Engine(model, { horizon: 3, warmup: 2, threshold: 0.5 });
  const devices = ['pump-7', 'quote"d', 'back\\slash', 'été', 'tab\there', '😀', 'ctl\u0001'];
  const results = await Promise.all(Array.from({ length: 140 }, (_, i) => e.push({ device: devices[i % devices.length]!, ts: 1000 + i, values: [i % 20 === 0 ? 1e6 : Math.sin(i) * 1e-7 - 0] })));
  await e.close();
  // If the engine's Result gains or loses a field, resultJson must follow: its keys are checked here.
  t.same(Object.keys(results[0]!), ['device', 'ts', 'values', 'expected', 'error', 'score', 'likelihood', 'anomaly', 'anomalous', 'episode', 'forecast', 'warmup', 'model']);
  t.ok(results.some((r) => r.expected === null) && results.some((r) => r.anomaly), 'nulls and anomalies covered');
  let same = 0;
  for (const r of results) if (resultJson(r) === JSON.stringify(r)) same++;
  t.equal(same, results.length, 'identical text for every result');
  const odd = { ...results[0]!, score: NaN, likelihood: Infinity, values: [-0, 1e21, 5e-324], forecast: [] };
  t.equal(resultJson(odd), JSON.stringify(odd), 'non-finite numbers, -0, exponents, empty arrays');
});

t.test('payloads: the bare-number shortcut reads exactly what JSON.parse reads, and refuses what it refuses', async (t) => {
  const o = { features: ['value'], deviceField: 'device', maxBytes: 1024 };
  const texts = ['21.4', '-0', '0', '1e3', '1E-7', '-12.50', '1e400', ' 21.4 ', '\n7\t', '\u00a05\u00a0', '\u16806', '\ufeff8', '01', '1.', '.5', '+1', '0x10', 'Infinity', 'NaN', '1_000', '--1', '1e', '', '  ', '"21.4"', 'null', 'true'];
  for (const text of texts) {
    let want: unknown;
    try {
      const trimmed = text.trim();
      const parsed: unknown = trimmed.length === 0 ? undefined : JSON.parse(trimmed);
      want = typeof parsed === 'number' ? [{ values: [parsed] }] : 'not a bare number';
    } catch {
      want = 'error';
    }
    let got: unknown;
    try {
      const r = decodePayload(Buffer.from(text), o);
      got = r.length === 1 && r[0]!.values?.length === 1 && Object.keys(r[0]!).length === 1 ? r : 'not a bare number';
    } catch (e) {
      got = (e as EdgeLstmError).code === 'E_PAYLOAD' ? (want === 'not a bare number' ? 'not a bare number' : 'error') : e;
    }
    t.same(got, want, JSON.stringify(text));
    if (Array.isArray(want)) t.ok(Object.is((got as DecodedReading[])[0]!.values![0], (want as DecodedReading[])[0]!.values![0]), `${JSON.stringify(text)}: same value, -0 included`);
  }
});

t.test('payloads: objects decode field by field as before (order, duplicates of value/feature, errors named)', async (t) => {
  const o = { features: ['temp', 'hum'], deviceField: 'device', maxBytes: 1024 };
  const d = (x: unknown): DecodedReading[] => decodePayload(Buffer.from(JSON.stringify(x)), o);
  t.same(d({ device: 'p7', ts: 5, temp: 1, hum: 2 }), [{ device: 'p7', ts: 5, named: { temp: 1, hum: 2 } }]);
  t.same(d({ value: 1, temp: 2 }), [{ named: { temp: 2 } }], 'value names the first feature; the later key wins');
  t.same(d({ timestamp: '1970-01-01T00:00:01Z', values: [1, 2] }), [{ ts: 1000, values: [1, 2] }]);
  t.same(d({ time: 3, hum: 4 }), [{ ts: 3, named: { hum: 4 } }]);
  const code = (x: unknown): string => {
    try {
      d(x);
      return 'ok';
    } catch (e) {
      return `${(e as EdgeLstmError).code} ${(e as EdgeLstmError).details.field}`;
    }
  };
  t.equal(code({ temp: 1, colour: 'red' }), 'E_PAYLOAD colour');
  t.equal(code({ ts: 1 }), 'E_PAYLOAD payload', 'no values');
  t.equal(code({ temp: 1, values: [1, 2] }), 'E_PAYLOAD values', 'both shapes');
  t.equal(code({ temp: null }), 'E_PAYLOAD temp');
  t.equal(code({ device: 7, temp: 1 }), 'E_PAYLOAD device');
});

t.test('PacketBatch.recycle: a written buffer encodes a later batch, and what it encodes is exact', async (t) => {
  const b = new PacketBatch(4);
  b.publish('edgelstm/a/result', '{"x":1}', 1, 5);
  const first = b.take();
  const firstBytes = Buffer.from(first);
  b.publish('edgelstm/b/result', '{"x":2}', 0, 0);
  const second = b.take(); // `first` not given back yet: a buffer of its own
  t.not(second.buffer, first.buffer, 'a buffer still being written is never reused');
  t.same(first, firstBytes, 'the first batch untouched by the second');
  b.recycle(first);
  b.puback(9);
  b.publish('edgelstm/c/result', 'y'.repeat(40_000), 1, 6); // grows past the spare's size: copied into a bigger one
  b.recycle(second);
  b.publish('edgelstm/d/result', '{"x":4}', 1, 7);
  const third = b.take();
  const got = parse(third, 4);
  t.same(got.map((p) => p.cmd), ['puback', 'publish', 'publish']);
  t.equal((got[1] as IPublishPacket).payload.toString(), 'y'.repeat(40_000));
  t.equal((got[2] as IPublishPacket).topic, 'edgelstm/d/result');
  b.publish('edgelstm/e/result', '{"x":5}', 0, 0);
  const fourth = b.take();
  // `second` (16 KB) was too small for a batch after a 40 KB one and was dropped; `first` (64 KB) is used again.
  t.not(third.buffer, second.buffer, 'a spare smaller than the last batch is not used (it would be copied on growth)');
  t.equal((parse(fourth, 4)[0] as IPublishPacket).topic, 'edgelstm/e/result');
  b.publish('edgelstm/f/result', '{"x":6}', 1, 8);
  const fifth = b.take(); // encoded into the spare taken when `fourth` was
  t.equal(fifth.buffer, first.buffer, 'the spare buffer given back encodes a later batch');
  t.equal((parse(fifth, 4)[0] as IPublishPacket).topic, 'edgelstm/f/result');
});

t.test('PacketBatch.abortPublish drops a PUBLISH whose payload writer failed: the packets around it parse exactly', async (t) => {
  for (const v of [4, 5] as const) {
    const b = new PacketBatch(v, 16);
    b.publish('edgelstm/a/result', '{"n":1}', 1, 1);
    b.beginPublish('edgelstm/b/result', 1, 2);
    const half = Buffer.from('{"device":"b","likel');
    b.room(half.length).set(half, b.at);
    b.wrote(half.length, false);
    b.abortPublish();
    b.publish('edgelstm/c/result', '{"n":3}', 0, 0);
    t.equal(b.count, 2, `v${v}: the aborted PUBLISH is not counted`);
    const got = parse(b.take(), v) as IPublishPacket[];
    t.same(got.map((p) => [p.topic, p.payload.toString()]), [['edgelstm/a/result', '{"n":1}'], ['edgelstm/c/result', '{"n":3}']], `v${v}`);
  }
});
