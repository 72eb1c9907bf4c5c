// Results written as bytes straight into a packet batch (writeBatchResult into PacketBatch.beginPublish/endPublish)
// must be the UTF-8 of JSON.stringify of the row's Result, in a packet a real MQTT parser reads back exactly.
import t from 'tap';
import type { IPublishPacket } from 'mqtt-packet';
import { parsePackets } from '../helpers/packets';
import { rng } from '../helpers/rng';
import { PacketBatch } from '../../runtime/service/packet-batch';
import { BatchResults, ResultColumns, type SteppedRow } from '../../runtime/engine/batch-results';
import { writeBatchResult } from '../../runtime/engine/result-bytes';

const parse = parsePackets;

const IDS = ['pump-1', 'dévïce-☃', 'a"quote', 'back\\slash', 'tab\there', 'ctl\u0001x', 'lone\ud800surrogate', '😀/emoji', 'del\u007f', ' ', 'x'.repeat(256), 'y'.repeat(20_000), 'line\u2028sep', ''];
const NUMBERS = [0, -0, 1, -1, 0.1, 1 / 3, -123.456, 1e21, 1e-7, 5e-324, -5e-324, Number.MAX_VALUE, 2 ** 31, 2 ** 53 - 1, 2 ** 53 + 2, NaN, Infinity, -Infinity, 1_700_000_000_000, -1_700_000_000_001];
const MODELS = ['m@1.0.0', 'mödel@2', 'a"b@1'];
const TOPICS = ['edgelstm/pump-1/result', 'edgelstm/pompe-été/result', 'edgelstm/😀/result', 'a'];

t.test('writeBatchResult into a PacketBatch: the bytes of JSON.stringify(result) on generated columns (edge numbers, ids, episodes)', async (t) => {
  const r = rng(21);
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)]!;
  const num = (): number => (r() < 0.6 ? pick(NUMBERS) : (r() - 0.5) * 10 ** Math.floor(r() * 40 - 20));
  let rows = 0;
  let differ = 0;
  let episodes = 0;
  let first = '';
  for (const v of [4, 5] as const) {
    for (let round = 0; round < 40; round++) {
      const targets = ['a', 'b', 'c'].slice(0, 1 + Math.floor(r() * 3));
      const T = targets.length;
      const horizon = 1 + Math.floor(r() * 3);
      const B = 32;
      const C = new ResultColumns(B, T, horizon);
      const stepped: SteppedRow[] = [];
      for (let i = 0; i < B; i++) {
        C.hasForecast[i] = r() < 0.8 ? 1 : 0;
        for (let k = 0; k < T; k++) {
          C.expected[i * T + k] = num();
          C.error[i * T + k] = num();
        }
        for (let k = 0; k < T * horizon; k++) C.forecast[i * T * horizon + k] = num();
        C.score[i] = C.hasForecast[i] ? num() : NaN;
        C.likelihood[i] = C.hasForecast[i] ? num() : NaN;
        C.anomaly[i] = r() < 0.5 ? 1 : 0;
        C.learning[i] = r() < 0.5 ? 1 : 0;
        C.mask[i] = Math.floor(r() * 2 ** T);
        C.event[i] = Math.floor(r() * 3);
        C.episodeStart[i] = num();
        C.episodeReadings[i] = Math.floor(r() * 100);
        C.episodePeak[i] = num();
        const values = Array.from({ length: T }, num);
        stepped.push({ sample: { device: pick(IDS), values: r() < 0.5 ? values : Float64Array.from(values) }, ts: num() });
      }
      const b = new BatchResults(C, targets, horizon);
      b.reset(stepped, pick(MODELS));
      const batch = new PacketBatch(v, 64); // tiny start: growth inside a payload is exercised
      const want: { topic: string; json: string; qos: 0 | 1; id: number; text: string }[] = [];
      for (let i = 0; i < B; i++) {
        const topic = pick(TOPICS);
        const qos = r() < 0.5 ? 0 : 1;
        const id = 1 + Math.floor(r() * 65535);
        batch.beginPublish(topic, qos, id);
        writeBatchResult(batch, b, i);
        batch.endPublish();
        const json = JSON.stringify(b.result(i));
        if (json.includes('"episode":{')) episodes++;
        want.push({ topic, json, qos, id, text: batch.lastPayload() });
      }
      batch.puback(77);
      const got = parse(batch.take(), v);
      t.equal(got.length, B + 1, 'every packet parsed');
      want.forEach((w, i) => {
        rows++;
        const p = got[i] as IPublishPacket;
        const ok = p.cmd === 'publish' && p.topic === w.topic && p.qos === w.qos && (w.qos === 0 || p.messageId === w.id) && Buffer.from(w.json, 'utf8').equals(p.payload as Buffer) && w.text === w.json;
        if (!ok) {
          differ++;
          first ||= `${w.json.slice(0, 300)}\n${(p.payload as Buffer).toString('utf8').slice(0, 300)}\n${w.text.slice(0, 300)}`;
        }
      });
      t.equal(got[B]!.cmd, 'puback', 'a PUBACK after the results');
    }
  }
  t.equal(differ, 0, first || `all ${rows} equal`);
  t.ok(episodes > 50, `episodes among them (${episodes})`);
});

t.test('endPublish: payloads of every remaining-length size (1 to 3 bytes), and the payload text', async (t) => {
  for (const v of [4, 5] as const) {
    const batch = new PacketBatch(v, 16);
    const payloads = ['', '{}', 'x'.repeat(120), 'x'.repeat(126), 'x'.repeat(200), 'é'.repeat(70), 'z'.repeat(16_370), 'z'.repeat(20_000), '😀'.repeat(5000)];
    for (const [k, s] of payloads.entries()) {
      batch.beginPublish('t/é', k % 2 === 0 ? 0 : 1, k + 1);
      // In pieces, as the result writer writes them (JsonBytes): room asked for, bytes written, then told.
      for (let o = 0; o < s.length; o += 40) {
        const part = s.slice(o, o + 40);
        const n = Buffer.byteLength(part);
        const buf = batch.room(n + 100);
        batch.wrote(buf.write(part, batch.at, 'utf8'), n !== part.length);
      }
      batch.endPublish();
      t.equal(batch.lastPayload(), s, `text of payload ${k}`);
    }
    const got = parse(batch.take(), v) as IPublishPacket[];
    t.same(got.map((p) => (p.payload as Buffer).toString('utf8')), payloads, `v${v}: every payload exact`);
    t.same(got.map((p) => p.topic), payloads.map(() => 't/é'));
  }
});

t.test('integers (timestamps, counts) written as digits: the text JSON.stringify gives, at every length and sign', async (t) => {
  const r = rng(31);
  const xs = [0, -0, 1, 9, 10, 99, 100, 2 ** 31 - 1, 2 ** 31, 99_999_999, 100_000_000, 1e15, 1e15 + 1, 999_999_999_999_999, 2 ** 53 - 1, 2 ** 53, 1e16, 1e21, 1_700_000_000_000, 4_102_444_800_000];
  for (let k = 0; k < 20_000; k++) xs.push(Math.round((r() - 0.5) * 2 ** Math.floor(r() * 56)));
  const all = [...xs, ...xs.map((x) => -x)];
  const C = new ResultColumns(1, 1, 1);
  C.hasForecast[0] = 1;
  let differ = 0;
  let first = '';
  const batch = new PacketBatch(4);
  for (const x of all) {
    C.expected[0] = x;
    C.forecast[0] = -x;
    const b = new BatchResults(C, ['v'], 1);
    b.reset([{ sample: { device: 'd', values: [x] }, ts: x }], 'm');
    batch.beginPublish('t', 0, 0);
    writeBatchResult(batch, b, 0);
    batch.endPublish();
    const got = batch.lastPayload();
    const want = JSON.stringify(b.result(0));
    if (got !== want) {
      differ++;
      first ||= `${x}: ${got}`;
    }
    if (batch.bytes > 1 << 20) batch.take();
  }
  t.equal(differ, 0, first || `all ${all.length} equal`);
});
