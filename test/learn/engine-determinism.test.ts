// Continual learning in deterministic mode: the same input order, the same results (real ONNX Runtime, real worker thread).
import t from 'tap';
import { Engine } from '../../runtime/engine/engine';
import type { EngineOptions } from '../../runtime/engine/options';
import type { Result } from '../../runtime/engine/sample';
import { loadModel, type Model } from '../../runtime/model/load-model';
import { makeTestModel } from '../helpers/models';

const perDevice = { mode: 'per-device' as const, window: 50, minStd: 1e-3 };
const LEARN = { every: 200, window: 16, windows: 32, minWindows: 4, steps: 4, batchSize: 4, learningRate: 1e-2, holdoutEvery: 0, cpuShare: 1, nice: 0 };

function reading(device: number, i: number): number {
  return 20 + 4 * Math.sin(i / 6 + device) + ((i * 7 + device) % 5) * 0.2;
}

async function model(): Promise<Model> {
  return loadModel(makeTestModel({ hidden: 8, seed: 11, normalization: perDevice }).bytes);
}

/** Interleaved readings of `devices` devices, in one fixed input order. */
function input(devices: number, perDev: number): { device: string; ts: number; values: number[] }[] {
  const out = [];
  for (let i = 0; i < perDev; i++) for (let d = 0; d < devices; d++) out.push({ device: `d${d}`, ts: i * 1000, values: [reading(d, i)] });
  return out;
}

t.test('deterministic mode: the same input order gives the same results, however batches form', async (t) => {
  const m = await model();
  const data = input(2, 300);
  const run = async (opts: EngineOptions, burst: number): Promise<Result[]> => {
    const e = new Engine(m, { warmup: 20, ...opts, learn: { ...LEARN, deterministic: true } });
    const out: Promise<Result>[] = [];
    for (let i = 0; i < data.length; i++) {
      out.push(e.push(data[i]!));
      if (i % burst === 0) await new Promise((r) => setImmediate(r));
    }
    const results = await Promise.all(out);
    t.equal(e.learnCounters?.failed, 0);
    await e.close();
    return results;
  };
  const a = await run({ maxDelayMs: 0 }, 1);
  const b = await run({ maxDelayMs: 3, maxBatch: 2 }, 97);
  t.equal(a.length, data.length);
  const ids = new Set(a.map((r) => r.model));
  t.same([...ids], ['test@1.0.0', 'test@1.0.0+ft1', 'test@1.0.0+ft2'], 'two fine-tunes were swapped in (the third comes after the last reading)');
  // Each fine-tune takes effect at the reading after its trigger, whatever the timing.
  for (let k = 1; k <= 2; k++) t.equal(a.findIndex((r) => r.model === `test@1.0.0+ft${k}`), 200 * k, `ft${k} from reading ${200 * k + 1}`);
  t.same(b, a, 'identical results, field for field');
  await m.release();
});

