/**
 * Where a device-step's CPU goes (`bench:engine -- --split`): the parts of
 * the engine's in-turn row measured alone, on the same model and fleet size.
 * - ONNX Runtime: backend.run at the batch size the engine forms (4096, or
 *   the fleet when smaller), nothing around it.
 * - detector: scoreReading, the per-reading work of runtime/engine/scoring/,
 *   on a fleet of detector records in the engine's own layout, past the
 *   warm-up (what a running service pays) and in it (most of a short bench).
 * The rest of the engine's CPU per step (queues, slots, gather/scatter,
 * statistics, forecasts) is the engine row's figure minus these two.
 */
import type { Model } from '../runtime/model/load-model';
import { resolveEngineOptions } from '../runtime/engine/options';
import { ReadingScore, scoreReading, scoringWidth, type ScoreInput } from '../runtime/engine/scoring/device-scorer';

export interface SplitRow {
  /** CPU us per device of one backend.run over a batch. */
  ortUs: number;
  batch: number;
  /** CPU us per reading of scoreReading, past the warm-up. */
  detectorUs: number;
  /** The same in the warm-up (learning period). */
  detectorWarmupUs: number;
}

function cpuUs(): number {
  const c = process.cpuUsage();
  return c.user + c.system;
}

function median(a: number[]): number {
  const s = [...a].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)]!;
}

async function ortAlone(model: Model, devices: number, H: number, rounds: number): Promise<{ us: number; batch: number }> {
  const B = Math.min(devices, 4096);
  const x = new Float32Array(B);
  for (let i = 0; i < B; i++) x[i] = Math.sin(i);
  const h = new Float32Array(B * H);
  const c = new Float32Array(model.cell === 'gru' ? 0 : B * H);
  const calls = Math.max(1, Math.round(devices / B));
  const per: number[] = [];
  await model.backend.run(x, h, c, 1, B);
  for (let r = 0; r < rounds; r++) {
    const t0 = cpuUs();
    for (let k = 0; k < calls; k++) await model.backend.run(x, h, c, 1, B);
    per.push((cpuUs() - t0) / (calls * B));
  }
  return { us: median(per), batch: B };
}

/** scoreReading over `devices` records (T = 1), `rounds` readings each, in turn; CPU us per reading. */
function detectorAlone(devices: number, rounds: number, pastWarmup: boolean): number {
  const opts = resolveEngineOptions({});
  const W = scoringWidth(1);
  const a = new Float64Array(devices * W);
  const expected = new Float64Array(devices);
  const values = [0];
  const inp: { -readonly [K in keyof ScoreInput]: ScoreInput[K] } = { values, targetIndex: [0], expected, expectedOff: 0, ts: 0, steps: 0, warmup: opts.warmup, warmupMs: opts.warmupMs };
  const out = new ReadingScore();
  const start = pastWarmup ? opts.warmup + 1 : 0;
  const per: number[] = [];
  // Readings a minute apart, so the time-of-day profile sees every hour over a long run.
  for (let r = 0; r < rounds; r++) {
    const t0 = cpuUs();
    for (let d = 0; d < devices; d++) {
      const v = Math.sin(d + r * 0.1);
      values[0] = v;
      expected[d] = v + 0.01 * Math.sin(r * 1.3 + d);
      inp.expectedOff = d;
      inp.ts = 1_700_000_000_000 + r * 60_000;
      inp.steps = r === 0 && !pastWarmup ? 0 : start + r;
      inp.expected = r === 0 ? null : expected;
      scoreReading(opts.scoring, opts.threshold, a, d * W, 1, inp, out);
    }
    if (r > 0) per.push((cpuUs() - t0) / devices);
  }
  return median(per);
}

export async function splitRow(model: Model, devices: number, H: number): Promise<SplitRow> {
  const rounds = Math.max(5, Math.min(100, Math.ceil(200_000 / devices)));
  const ort = await ortAlone(model, devices, H, rounds);
  return { ortUs: ort.us, batch: ort.batch, detectorUs: detectorAlone(devices, rounds, true), detectorWarmupUs: detectorAlone(devices, Math.min(rounds, 100), false) };
}
