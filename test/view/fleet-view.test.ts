import t from 'tap';
import type { Episode, Result } from '../../runtime/engine/sample';
import { BAND_K, EPISODES_KEPT, FleetView, bytesPerDevice, type ViewSource } from '../../runtime/view';

const source = (targets = ['value'], devices = () => 0): ViewSource => ({
  shape: () => ({ targets, targetIndex: targets.map((_, i) => i) }),
  info: () => ({ model: 'm@1', backend: 'wasm', devices: devices() }),
});

function result(device: string, ts: number, value: number, expected: number | null, o: Partial<Result> = {}): Result {
  return {
    device, ts, values: [value], expected: expected === null ? null : [expected], error: expected === null ? null : [value - expected],
    score: expected === null ? null : Math.abs(value - expected), likelihood: expected === null ? null : 0.5, anomaly: false, anomalous: [], episode: null,
    forecast: [value], warmup: false, model: 'm@1', ...o,
  };
}

const episode = (state: Episode['state'], start: number, ts: number, peak = 0.9999): Episode => ({ state, start, readings: 1, durationMs: ts - start, peak, features: ['value'] });

t.test('the ring keeps the last `points` readings, oldest first, and says which ones', async (t) => {
  const v = new FleetView(source(), { points: 5, devices: 10 });
  for (let i = 0; i < 12; i++) v.record(result('a', 1000 * i, i, i === 0 ? null : i - 1));
  const p = v.get('a')!.pointsSince(0);
  t.equal(p.from, 7);
  t.equal(p.to, 12);
  t.same(p.ts, [7000, 8000, 9000, 10000, 11000]);
  t.same(p.value, [[7, 8, 9, 10, 11]]);
  t.same(p.expected, [[6, 7, 8, 9, 10]]);
  v.record(result('a', 12_000, 12, 11, { likelihood: 1 - 1e-10 }));
  t.equal(v.get('a')!.pointsSince(12).likelihood[0], 1 - 1e-10, 'the likelihood keeps its nines');
  t.equal(v.get('a')!.row().likelihood, 1 - 1e-10);
  const since = v.get('a')!.pointsSince(10);
  t.same(since.ts, [10000, 11000, 12000], 'only what is new since a sequence number');
  t.equal(v.results, 13);
});

t.test('the band is forecast ± k × the recent RMS error, taken before the reading\'s own error', async (t) => {
  const v = new FleetView(source(), { points: 100 });
  t.equal(v.get('x'), undefined);
  v.record(result('x', 0, 10, null));
  for (let i = 1; i <= 60; i++) v.record(result('x', i * 1000, 10 + (i % 2 ? 1 : -1), 10)); // errors ±1: RMS 1
  v.record(result('x', 61_000, 30, 10)); // a jump of 20
  const p = v.get('x')!.pointsSince(0);
  t.equal(p.band[0]![0], null, 'no band without a forecast');
  t.equal(p.band[0]![1], null, 'no band before any error was seen');
  const last = p.band[0]![61]!;
  t.ok(Math.abs(last - BAND_K) < 1e-6, `band half-width ${last} = ${BAND_K} × RMS 1`);
  t.ok(p.value[0]![61]! > p.expected[0]![61]! + last, 'the jump lies outside its own band');
  const after = v.get('x')!;
  v.record(result('x', 62_000, 10, 10));
  t.ok(after.pointsSince(62).band[0]![0]! > BAND_K, 'and widens the band after it');
});

t.test('episodes: opened, updated, closed and kept (a bounded number)', async (t) => {
  const v = new FleetView(source(), { points: 50 });
  let ts = 0;
  const step = (o: Partial<Result> = {}): void => v.record(result('p', (ts += 1000), 1, 1, o));
  step();
  step({ anomaly: true, episode: episode('start', ts + 1000, ts + 1000, 0.99) });
  const start = ts;
  t.same(v.get('p')!.row().open, start, 'open episode on the row');
  t.equal(v.summary().open, 1);
  step({ anomaly: true, episode: episode('active', start, ts + 1000, 0.999999) });
  step({ anomaly: false, episode: episode('end', start, ts + 1000, 0.999999) });
  const eps = v.get('p')!.allEpisodes();
  t.same(eps, [{ start, end: ts, peak: 0.999999, features: ['value'] }]);
  t.equal(v.get('p')!.row().open, null);
  t.same(v.get('p')!.pointsSince(0).anomaly, [false, true, true, false]);
  for (let k = 0; k < EPISODES_KEPT + 3; k++) {
    step({ anomaly: true, episode: episode('start', ts + 1000, ts + 1000) });
    step({ episode: episode('end', ts, ts + 1000) });
  }
  t.equal(v.get('p')!.allEpisodes().length, EPISODES_KEPT, 'at most EPISODES_KEPT closed episodes');
});

t.test('at most `devices` tracked: the least recently updated goes (second chance)', async (t) => {
  const v = new FleetView(source(), { points: 4, devices: 3 });
  v.record(result('a', 1, 1, null));
  v.record(result('b', 1, 1, null));
  v.record(result('c', 1, 1, null));
  v.record(result('d', 1, 1, null)); // all touched: one pass clears, then 'a' goes
  t.same([...['a', 'b', 'c', 'd']].map((d) => v.get(d) !== undefined), [false, true, true, true]);
  v.record(result('b', 2, 1, 1)); // b touched again; c and d not since the pass
  v.record(result('e', 1, 1, null));
  t.equal(v.size, 3);
  t.ok(v.get('b') && v.get('e'), 'the recently updated device stays');
  t.notOk(v.get('c'), 'one not updated since goes');
  for (let i = 0; i < 1000; i++) v.record(result(`n${i}`, 1, 1, null));
  t.equal(v.size, 3, 'bounded under churn');
  v.forget('n999');
  t.equal(v.size, 2);
});

t.test('errors, the summary\'s order and filter, sizes', async (t) => {
  let engineDevices = 7;
  const v = new FleetView(source(['value'], () => engineDevices), { points: 10 });
  v.record(result('calm', 1, 1, 1, { likelihood: 0.1 }));
  v.record(result('odd', 1, 1, 1, { likelihood: 0.99 }));
  v.record(result('alarm', 1, 1, 1, { likelihood: 0.5, anomaly: true, episode: episode('start', 1, 1) }));
  v.recordError('odd', 'E_BAD_VALUE');
  v.recordError(null, 'E_PAYLOAD');
  v.recordError('unknown', 'E_BAD_VALUE');
  const s = v.summary();
  t.same(s.rows.map((r) => r.device), ['alarm', 'odd', 'calm'], 'open episodes first, then by likelihood');
  t.equal(s.errors, 3);
  t.equal(s.rows[1]!.errors, 1);
  t.equal(s.rows[1]!.lastError, 'E_BAD_VALUE');
  t.equal(s.devices, 7);
  t.equal(s.tracked, 3);
  t.equal(s.model, 'm@1');
  t.equal(s.backend, 'wasm');
  t.equal(s.bytesPerDevice, bytesPerDevice(10, 1));
  const f = v.summary('ala', 10);
  t.same(f.rows.map((r) => r.device), ['alarm']);
  t.equal(f.matched, 1);
  t.equal(v.summary('', 1).rows.length, 1, 'rows limited');
  t.equal(v.summary('', 1).matched, 3);
  engineDevices = 0;
  // A point's fields together, rounded up to 8 bytes: 16 + 4 × (3T + 2); a header of 1 + 2T + features + forecast doubles; 200 bytes of objects.
  t.equal(bytesPerDevice(240, 1), 240 * 40 + 8 * 5 + 200);
  t.equal(bytesPerDevice(240, 3), 240 * 64 + 8 * 13 + 200);
  t.equal(bytesPerDevice(240, 2, 5, 8), 240 * 48 + 8 * (1 + 4 + 5 + 8) + 200);
});

t.test('bad options are refused with the option named', async (t) => {
  t.throws(() => new FleetView(source(), { points: 1 }), { code: 'E_CONFIG', details: { field: 'view-points' } });
  t.throws(() => new FleetView(source(), { devices: 0 }), { code: 'E_CONFIG', details: { field: 'view-devices' } });
  t.throws(() => new FleetView(source(), { devices: 2.5 }), { code: 'E_CONFIG', details: { field: 'view-devices' } });
});

t.test('a model with more targets: the device starts over with the new shape', async (t) => {
  let targets = ['value'];
  const v = new FleetView({ shape: () => ({ targets, targetIndex: targets.map((_, i) => i) }), info: () => ({ model: 'm', backend: 'wasm', devices: 0 }) }, { points: 4 });
  v.record(result('a', 1, 1, 1));
  targets = ['x', 'y'];
  v.record({ ...result('a', 2, 1, 1), values: [1, 2], expected: [1, 2], error: [0, 0] });
  t.equal(v.get('a')!.targets, 2);
  t.same(v.get('a')!.pointsSince(0).value, [[1], [2]]);
  t.equal(v.slabs, 1, 'the old shape\'s memory went with its last device');
  v.forget('a');
  v.record(result('b', 3, 1, 1));
  t.equal(v.slabs, 1, 'and a shape no device has any more goes when another comes');
  t.equal(v.get('b')!.targets, 1);
});

t.test('the summary\'s rows are the same as sorting the whole fleet', async (t) => {
  const v = new FleetView(source(), { points: 2 });
  const lik = (i: number): number => ((i * 7919) % 1000) / 1000;
  for (let i = 0; i < 500; i++) v.record(result(`d${i}`, 1, 1, 1, { likelihood: lik(i), ...(i % 97 === 0 ? { anomaly: true, episode: episode('start', 1000 - i, 1) } : {}) }));
  const all = v.summary('', 1000).rows.map((r) => r.device);
  t.equal(all.length, 500);
  t.same(v.summary('', 20).rows.map((r) => r.device), all.slice(0, 20), 'the top 20 of the full order');
  t.same(all.slice(0, 6), ['d485', 'd388', 'd291', 'd194', 'd97', 'd0'], 'open episodes first, oldest first');
  const ls = v.summary('', 1000).rows.slice(6).map((r) => r.likelihood!);
  t.ok(ls.every((l, i) => i === 0 || ls[i - 1]! >= l), 'then by likelihood, highest first');
  t.same(v.summary('d1', 5).rows.map((r) => r.device), all.filter((d) => d.includes('d1')).slice(0, 5), 'filtered as well');
});

t.test('recordRow (from the engine\'s columns) keeps exactly what record(b.result(i)) keeps: points, rows, episodes, forecast', async (t) => {
  const { Engine } = await import('../../runtime/engine/engine');
  const { loadModel } = await import('../../runtime/model/load-model');
  const { makeTestModel } = await import('../helpers/models');
  const { bytes } = makeTestModel({ features: ['a', 'b', 'c'], targets: ['a', 'c'], hidden: 16, layers: 1, seed: 4, normalization: { mode: 'per-device', window: 50, minStd: 1e-3 } });
  const m = await loadModel(bytes, { backend: 'native' });
  const e = new Engine(m, { maxDelayMs: 1, maxBatch: 64, horizon: 2, warmup: 10, threshold: 0.5 });
  const src: ViewSource = { shape: () => ({ targets: ['a', 'c'], targetIndex: [0, 2] }), info: () => ({ model: 'm', backend: 'native', devices: e.devices }) };
  const byObject = new FleetView(src, { points: 40, devices: 50 });
  const byRow = new FleetView(src, { points: 40, devices: 50 });
  for (let k = 0; k < 90; k++) {
    for (let d = 0; d < 12; d++) {
      const spike = d % 3 === 0 && k >= 50 && k <= 55 ? 400 : 0;
      const values = d % 2 === 0 ? [10 + 3 * Math.sin(k / 5 + d) + spike, 1, 2 + Math.cos(k / 7)] : Float64Array.of(5 + Math.sin(k + d), 0.1 * d, -3 - (k % 5));
      e.submitColumnar({ device: `d${d}`, ts: 1000 * k, values }, (err, b, i) => {
        if (err || !b) return;
        byObject.record(b.result(i));
        byRow.recordRow(b, i);
      });
    }
  }
  await e.flush();
  t.equal(byRow.results, 12 * 90);
  t.same(byRow.summary('', 100), byObject.summary('', 100), 'fleet summaries equal');
  let episodes = 0;
  for (let d = 0; d < 12; d++) {
    const [a, b] = [byObject.get(`d${d}`)!, byRow.get(`d${d}`)!];
    t.same(b.pointsSince(0), a.pointsSince(0), `d${d}: points equal`);
    t.same([b.allEpisodes(), b.forecast, b.row()], [a.allEpisodes(), a.forecast, a.row()], `d${d}: episodes, forecast, row equal`);
    episodes += a.allEpisodes().length;
  }
  t.ok(episodes > 0, `episodes among them (${episodes})`);
  await e.close();
  await m.release();
});

t.test('devices share chunks of memory: each keeps its own points, values, forecast and band, whatever the order they report in', async (t) => {
  const v = new FleetView(source(), { points: 3, devices: 1000 });
  const N = 700; // three chunks of 256 devices
  const order = Array.from({ length: N }, (_, d) => (d * 337) % N);
  for (let k = 0; k < 5; k++) {
    for (const d of order) v.record({ ...result(`d${d}`, 1000 * k + d, d + k / 10, k === 0 ? null : d), forecast: [d + 0.5, -d] });
  }
  let wrong = 0;
  for (let d = 0; d < N; d++) {
    const tr = v.get(`d${d}`)!;
    const p = tr.pointsSince(0);
    const ok = p.from === 2 && p.to === 5 && JSON.stringify(p.ts) === JSON.stringify([2000 + d, 3000 + d, 4000 + d]) && p.value[0]!.every((x, i) => Math.abs(x! - (d + (2 + i) / 10)) < 1e-3 * (d + 1))
      && JSON.stringify(tr.forecast) === JSON.stringify([d + 0.5, -d]) && JSON.stringify(tr.row().values) === JSON.stringify([d + 0.4]);
    if (!ok) wrong++;
  }
  t.equal(wrong, 0, `all ${N} devices' points are their own`);
  t.equal(v.summary('', 0).bytesPerDevice, bytesPerDevice(3, 1, 1, 2));
});

t.test('a dropped device\'s memory goes to the next one: the old track shows nothing of it, the new one nothing of the old', async (t) => {
  const v = new FleetView(source(), { points: 4, devices: 2 });
  for (let k = 0; k < 3; k++) {
    v.record(result('a', k, 100 + k, k ? 100 : null));
    v.record(result('b', k, 200 + k, k ? 200 : null));
  }
  const a = v.get('a')!;
  v.record(result('c', 10, 7, null)); // one pass clears both, then 'a' goes; 'c' takes its slot
  t.equal(v.get('a'), undefined);
  t.same(a.pointsSince(0).ts, [], 'the dropped track has no points');
  t.same(a.row().values, [], 'nor values');
  t.ok(Number.isNaN(a.lastLikelihood));
  const c = v.get('c')!;
  t.same(c.pointsSince(0).value, [[7]], 'the new device has only its own point');
  t.same(c.pointsSince(0).band, [[null]], 'and no error scale of the old one');
  t.equal(c.row().likelihood, null);
  v.record(result('c', 11, 8, 7));
  t.same(c.pointsSince(0).band, [[null, null]], 'no band before its own first error');
  v.forget('b');
  v.record(result('d', 1, 1, null));
  t.same(v.get('d')!.pointsSince(0).ts, [1]);
  t.same(v.get('c')!.pointsSince(0).ts, [10, 11], 'the others keep theirs');
});
