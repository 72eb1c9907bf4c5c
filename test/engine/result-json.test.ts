// resultJson writes the bytes JSON.stringify writes, over results generated to reach every branch of it.
import t from 'tap';
import { resultJson } from '../../runtime/engine/result-json';
import type { Episode, Result } from '../../runtime/engine/sample';
import { rng } from '../helpers/rng';

const IDS = ['pump-1', 'dévïce-☃', 'a"quote', 'back\\slash', 'tab\there', 'ctl\u0001x', 'lone\ud800surrogate', '😀/emoji', 'del\u007f', ' ', 'x'.repeat(256), 'line\u2028sep'];
const NUMBERS = [0, -0, 1, -1, 0.1, 1 / 3, -123.456, 1e21, 1e-7, 5e-324, Number.MAX_VALUE, 2 ** 53 + 2, NaN, Infinity, -Infinity, 1700000000000];

function build(r: () => number): Result {
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)]!;
  const num = (): number => (r() < 0.5 ? pick(NUMBERS) : (r() - 0.5) * 10 ** Math.floor(r() * 30 - 15));
  const arr = (n: number): number[] => Array.from({ length: n }, num);
  const T = 1 + Math.floor(r() * 4);
  const first = r() < 0.2;
  const features = Array.from({ length: Math.floor(r() * 3) }, () => pick(IDS));
  const episode: Episode | null = r() < 0.4 ? null : { state: pick(['start', 'active', 'end'] as const), start: num(), readings: Math.floor(r() * 100), durationMs: num(), peak: num(), features };
  return {
    device: pick(IDS), ts: num(), values: arr(T), expected: first ? null : arr(T), error: first ? null : arr(T),
    score: first ? null : num(), likelihood: first ? null : num(), anomaly: r() < 0.5, anomalous: features, episode,
    forecast: arr(T * (1 + Math.floor(r() * 3))), warmup: r() < 0.5, model: pick(['m@1.0.0', 'mödel@2', 'a"b@1']),
  };
}

t.test('resultJson equals JSON.stringify on 20,000 generated results', async (t) => {
  const r = rng(15);
  let differ = 0;
  let first: Result | undefined;
  for (let i = 0; i < 20_000; i++) {
    const res = build(r);
    if (resultJson(res) !== JSON.stringify(res)) {
      differ++;
      first ??= res;
    }
  }
  t.equal(differ, 0, first === undefined ? 'all equal' : `first differing: ${JSON.stringify(first)} vs ${resultJson(first)}`);
});

t.test('the cases one by one: -0, non-finite, null fields, unicode and escaped ids', async (t) => {
  for (const device of IDS) {
    for (const x of NUMBERS) {
      const res: Result = { device, ts: x, values: [x], expected: null, error: null, score: null, likelihood: x, anomaly: false, anomalous: [], episode: null, forecast: [x, -x], warmup: true, model: device };
      t.equal(resultJson(res), JSON.stringify(res), `id ${IDS.indexOf(device)}, ${String(x)}`);
    }
  }
});

t.test('batchResultJson (from the columns) equals JSON.stringify of the Result of the same row, on engine batches', async (t) => {
  const { Engine } = await import('../../runtime/engine/engine');
  const { loadModel } = await import('../../runtime/model/load-model');
  const { makeTestModel } = await import('../helpers/models');
  const { batchResultJson } = await import('../../runtime/engine/result-json');
  for (const [name, opts, logvar] of [['horizon 1', { maxGapMs: 3_600_000, warmup: 10, threshold: 0.5 }, false], ['horizon 3, variance head', { horizon: 3, warmup: 10, threshold: 0.5 }, true]] as const) {
    const { bytes } = makeTestModel({ features: ['a', 'b', 'c'], targets: ['a', 'c'], hidden: 16, layers: 2, seed: 9, logvar, normalization: { mode: 'per-device', window: 50, minStd: 1e-3 } });
    const m = await loadModel(bytes, { backend: 'native' });
    const e = new Engine(m, { maxDelayMs: 1, maxBatch: 64, ...opts });
    let rows = 0;
    let differ = 0;
    let nulls = 0;
    let episodes = 0;
    let firstDiff = '';
    for (let k = 0; k < 80; k++) {
      for (let d = 0; d < 30; d++) {
        const spike = d % 3 === 0 && k >= 50 && k <= 56 ? 500 : 0;
        const ts = k * 1000 + (d === 4 && k >= 70 ? 86_400_000 : 0);
        const values = d % 2 === 0 ? [10 + 3 * Math.sin(k / 5 + d) + spike, -0, 1e21 + k] : Float64Array.of(5e-324 * k, 0.1 + d, -123.456 - k);
        e.submitColumnar({ device: d === 7 ? 'dévïce-☃' : d === 8 ? 'a"q' : `d${d}`, ts, values }, (err, b, i) => {
          if (err || !b) return;
          rows++;
          const want = JSON.stringify(b.result(i));
          const got = batchResultJson(b, i);
          if (want.includes('"expected":null')) nulls++;
          if (!want.includes('"episode":null')) episodes++;
          if (got !== want) {
            differ++;
            firstDiff ||= `${got}\n${want}`;
          }
        });
      }
    }
    await e.flush();
    t.equal(rows, 2400, `${name}: every row`);
    t.equal(differ, 0, firstDiff || `${name}: all equal`);
    t.ok(nulls >= 30 && episodes > 0, `${name}: first readings (${nulls}) and episodes (${episodes}) among them`);
    await e.close();
    await m.release();
  }
});

t.test('integers around the fast path of 2^31..2^53 (timestamps) print as JSON.stringify prints them', async (t) => {
  const edges = [2 ** 31 - 1, 2 ** 31, 2 ** 31 + 1, 99_999_999, 100_000_000, 100_000_001, 1e8 * 21 + 7, 2 ** 53 - 1, 2 ** 53, 2 ** 53 + 2, 1e15 + 1, 1e16, 1e21, 1e21 - 65536, 1_700_000_000_000, 1_700_000_000_001, 4_102_444_800_000];
  const r = rng(53);
  for (let i = 0; i < 100_000; i++) edges.push(Math.round((r() - 0.5) * 2 ** Math.floor(r() * 60)));
  let differ = 0;
  let first = '';
  for (const x of [...edges, ...edges.map((e) => -e)]) {
    const res: Result = { device: 'd', ts: x, values: [x], expected: null, error: null, score: null, likelihood: null, anomaly: false, anomalous: [], episode: null, forecast: [], warmup: false, model: 'm' };
    if (resultJson(res) !== JSON.stringify(res)) {
      differ++;
      first ||= `${x}: ${resultJson(res)}`;
    }
  }
  t.equal(differ, 0, first || 'all equal');
});
