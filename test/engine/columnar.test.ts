// Engine.submitColumnar: the columnar batch results give exactly what submit's Result objects give.
import t from 'tap';
import type { BatchResults } from '../../runtime/engine/batch-results';
import { Engine } from '../../runtime/engine/engine';
import type { Result, Sample } from '../../runtime/engine/sample';
import { loadModel, type Model } from '../../runtime/model/load-model';
import { makeTestModel } from '../helpers/models';

const features = ['a', 'b', 'c'];

async function model(logvar = false): Promise<Model> {
  const { bytes } = makeTestModel({ features, targets: ['a', 'c'], hidden: 16, layers: 2, seed: 9, logvar, normalization: { mode: 'per-device', window: 50, minStd: 1e-3 } });
  return loadModel(bytes, { backend: 'native' });
}

/** 40 devices x 90 readings, every third with a spike at 60-66, and a gap of a day at reading 85 for device 4 (a gap reset). */
function stream(): Sample[] {
  const out: Sample[] = [];
  for (let k = 0; k < 90; k++) {
    for (let d = 0; d < 40; d++) {
      const spike = d % 3 === 0 && k >= 60 && k <= 66 ? 500 : 0;
      const ts = k * 1000 + (d === 4 && k >= 85 ? 86_400_000 : 0);
      out.push({ device: d === 7 ? 'dévïce-☃' : `d${d}`, ts, values: [10 + 3 * Math.sin(k / 5 + d) + spike, -2 + Math.cos(k / 7 + d), Float64Array.of(100 + d)[0]! + k] });
    }
  }
  return out;
}

function deepIs(a: unknown, b: unknown): boolean {
  if (typeof a !== 'object' || a === null || typeof b !== 'object' || b === null) return Object.is(a, b);
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length || ka.some((k, i) => k !== kb[i])) return false;
  return ka.every((k) => deepIs((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

interface Row {
  result: Result;
  columns: { device: string; ts: number; score: number | null; likelihood: number | null; anomaly: boolean; warmup: boolean; hasForecast: boolean; episodeEvent: boolean; expected: number[]; forecast: number[] };
}

function rowOf(b: BatchResults, i: number): Row {
  const T = b.T;
  return {
    result: b.result(i),
    columns: {
      device: b.device(i), ts: b.ts(i), score: b.score(i), likelihood: b.likelihood(i), anomaly: b.anomaly(i), warmup: b.warmup(i), hasForecast: b.hasForecast(i), episodeEvent: b.episodeEvent(i),
      expected: Array.from(b.columns.expected.subarray(i * T, (i + 1) * T)),
      forecast: Array.from(b.columns.forecast.subarray(i * T * b.horizon, (i + 1) * T * b.horizon)),
    },
  };
}

for (const [name, opts, logvar] of [['horizon 1', { maxGapMs: 3_600_000, warmup: 10, threshold: 0.5 }, false], ['horizon 3, variance head', { horizon: 3, warmup: 10, threshold: 0.5 }, true]] as const) {
  t.test(`${name}: submitColumnar's rows equal submit's results, field for field`, async (t) => {
    const m = await model(logvar);
    const a = new Engine(m, { maxDelayMs: 1, maxBatch: 64, ...opts });
    const b = new Engine(m, { maxDelayMs: 1, maxBatch: 64, ...opts });
    const samples = stream();
    const objects: Promise<Result>[] = samples.map((s) => a.push(s));
    const rows: Row[] = [];
    let errors = 0;
    let refused = 0;
    for (const s of samples) {
      const bad = b.submitColumnar(s, (err, batch, i) => {
        if (err || !batch) errors++;
        else rows.push(rowOf(batch, i));
      });
      if (bad) refused++;
    }
    t.equal(refused, 0, 'every sample accepted');
    const expected = await Promise.all(objects);
    await b.flush();
    t.equal(errors, 0);
    t.equal(rows.length, expected.length);
    // Batches run in the same order in both engines (same queueing), so results arrive in the same order.
    let anomalies = 0;
    let events = 0;
    let firsts = 0;
    for (let i = 0; i < expected.length; i++) {
      const r = expected[i]!;
      const { result, columns } = rows[i]!;
      // Bit-identical: Object.is on every number (JSON text would hide -0 and the last bits of nothing, but Object.is hides nothing).
      const same = deepIs(result, r) && JSON.stringify(result) === JSON.stringify(r)
        && columns.device === r.device && columns.ts === r.ts && Object.is(columns.score, r.score) && Object.is(columns.likelihood, r.likelihood)
        && columns.anomaly === r.anomaly && columns.warmup === r.warmup && columns.hasForecast === (r.expected !== null)
        && columns.episodeEvent === (r.episode !== null && r.episode.state !== 'active')
        && (r.expected === null || deepIs(columns.expected, r.expected)) && deepIs(columns.forecast, r.forecast);
      if (!same) {
        t.fail(`row ${i} differs`, { found: rows[i], wanted: r });
        break;
      }
      if (r.anomaly) anomalies++;
      if (r.episode !== null && r.episode.state !== 'active') events++;
      if (r.expected === null) firsts++;
    }
    // The stream exercises what the columns carry: first readings, anomalies and episode events.
    t.pass(`${expected.length} rows identical`);
    t.ok(firsts >= 40, `first readings (null fields): ${firsts}`);
    t.ok(anomalies > 0, `anomalous readings: ${anomalies}`);
    t.ok(events > 0, `episode events: ${events}`);
    t.same(b.counters.anomalies, a.counters.anomalies);
    t.same(b.counters.gapResets, a.counters.gapResets);
    await a.close();
    await b.close();
    await m.release();
  });
}

t.test('submitColumnar: a bad sample is refused at once and counted, like submit', async (t) => {
  const m = await model();
  const e = new Engine(m, { maxDelayMs: 0 });
  let called = 0;
  const err = e.submitColumnar({ device: 'x', values: [1, 2] }, () => called++);
  t.equal(err?.code, 'E_BAD_LENGTH');
  t.equal(e.counters.rejected, 1);
  await e.flush();
  t.equal(called, 0);
  await e.close();
  await m.release();
});
