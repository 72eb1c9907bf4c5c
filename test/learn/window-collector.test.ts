import t from 'tap';
import { WindowCollector } from '../../runtime/learn/window-collector';
import { WindowRing } from '../../runtime/learn/window-ring';
import { featureMean, featureStd, normalizeInto, observe } from '../../runtime/model/normalizer';
import { prepareSeries } from '../../models/toolchain/series-data';

const norm = { mode: 'per-device' as const, window: 50, minStd: 1e-3 };

/** Streams a series into a collector the way the engine does: statistics after observing, input normalized by them. */
function feed(c: WindowCollector, device: string, values: number[], usable: (i: number) => boolean = () => true, tag0 = 0): void {
  const stats = new Float64Array(3);
  const x = new Float32Array(1);
  values.forEach((v, i) => {
    observe(norm, stats, 0, [v]);
    normalizeInto(norm, stats, 0, [v], x, 0);
    c.observe(device, tag0 + i, usable(i), x, 0, [v], [0], [featureMean(norm, stats, 0, 0)], [featureStd(norm, stats, 0, 1, 0)]);
  });
}

t.test('windows hold exactly what the toolchain trains on', async (t) => {
  const values = Array.from({ length: 41 }, (_, i) => 20 + 5 * Math.sin(i / 3) + (i % 4));
  const c = new WindowCollector({ steps: 10, windows: 8, devices: 4, features: 1, targets: 1 });
  c.admit('d');
  feed(c, 'd', values);
  const { x, y, count } = c.ring.snapshot();
  t.equal(count, 4, '40 (input, target) pairs make four windows of 10');
  const prepared = prepareSeries({ name: 'd', columns: [Float64Array.from(values)] }, norm, [0]);
  t.same(Array.from(x), Array.from(prepared.x.subarray(0, 40)), 'inputs');
  t.same(Array.from(y), Array.from(prepared.y.subarray(0, 40)), 'targets: the next reading, normalized with the statistics of the current one');
});

t.test('a reading that is not usable (warm-up, anomaly) breaks the window: it is never a target', async (t) => {
  const values = Array.from({ length: 40 }, (_, i) => (i === 15 ? 1000 : i % 5));
  const c = new WindowCollector({ steps: 10, windows: 8, devices: 4, features: 1, targets: 1 });
  c.admit('d');
  // Readings 0-4 are the warm-up, 15 is flagged.
  feed(c, 'd', values, (i) => i >= 5 && i !== 15);
  const { y, count } = c.ring.snapshot();
  t.equal(count, 2, 'the 9 pairs before the spike are dropped; 17-36 make two windows');
  t.ok(Array.from(y).every((v) => Math.abs(v) < 10), 'the spike is in no target');
});

t.test('devices: the first ones admitted, in arrival order; a forgotten one frees its room', async (t) => {
  const c = new WindowCollector({ steps: 4, windows: 8, devices: 2, features: 1, targets: 1 });
  for (const d of ['a', 'b', 'c']) c.admit(d);
  t.ok(c.has('a') && c.has('b') && !c.has('c'));
  c.forget('a');
  c.admit('c');
  t.ok(c.has('c'));
  const before = c.bytes;
  for (let i = 0; i < 50; i++) c.admit(`x${i}`);
  t.equal(c.bytes, before, 'memory does not grow with the fleet');
});

t.test('a full ring keeps the windows with the highest tags, whatever order they came in', async (t) => {
  const r = new WindowRing(3, 2, 1, 1);
  const win = (v: number): Float64Array => Float64Array.from([v, v]);
  for (const tag of [5, 1, 9, 3, 7, 2]) r.push(tag, win(tag), win(tag));
  const s = r.snapshot();
  t.same(Array.from(s.x), [5, 5, 7, 7, 9, 9], 'tags 5, 7, 9, oldest first');
  t.equal(r.offered, 6);
  const bytes = r.bytes;
  for (let i = 0; i < 100; i++) r.push(100 + i, win(i), win(i));
  t.equal(r.bytes, bytes, 'fixed arrays');
  t.equal(r.size, 3);
});
