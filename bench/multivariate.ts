/**
 * Multivariate devices with sustained faults, the shape of industrial test
 * benches (a valve that closes and stays closed; 8 sensors, several noisy):
 * `npm run bench:multivariate`. Each experiment is one device with 8
 * correlated sensors driven by one process (three of them noisy), 400
 * normal readings, then one fault that lasts 300 readings, then 300 normal
 * readings again. Faults: level shift of a group of sensors, a stuck
 * sensor, a drift, a change of variance, a broken relation (one sensor
 * stops following the process while staying in its range), and a spike
 * burst. The shipped univariate generic model serves the 8 features
 * channel-independently with the engine's defaults, exactly as `replay
 * --features ...` does; the controls are the same engine and scoring with a
 * running-mean forecaster (per-feature z-score) and persistence. Printed:
 * point-wise precision, recall and F1 of the `anomaly` flag per fault and
 * overall, and how many alarms (episode starts) each experiment raised.
 */
import { Engine } from '../runtime/engine/engine';
import type { EngineOptions } from '../runtime/engine/options';
import type { Result } from '../runtime/engine/sample';
import { defaultModelPath } from '../runtime/model/default-model';
import { loadModel, type Model } from '../runtime/model/load-model';
import { controlModel } from '../runtime/eval/control-models';
import { mulberry32 } from '../runtime/contract/weights';

const FEATURES = ['p1', 'p2', 'flow', 'temp1', 'temp2', 'vib1', 'vib2', 'current'];
const FAULTS = ['level-shift', 'stuck', 'drift', 'variance', 'broken-relation', 'spikes'] as const;
type Fault = (typeof FAULTS)[number];
const NORMAL = 400;
const FAULT = 300;
const AFTER = 300;
const PER_FAULT = Number(process.argv.find((a) => a.startsWith('--per-fault='))?.slice(12) ?? 8);
/** Engine options to try, as JSON (`--options={...}`); the published table uses none. */
const OVERRIDES = JSON.parse(process.argv.find((a) => a.startsWith('--options='))?.slice(10) ?? '{}') as EngineOptions;

/** A small deterministic generator, so every run sees the same experiments. */
const rng = mulberry32;

function gauss(r: () => number): number {
  return Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
}

interface Experiment {
  fault: Fault;
  rows: number[][];
  labels: Uint8Array;
}

function experiment(fault: Fault, seed: number): Experiment {
  const r = rng(seed);
  const n = NORMAL + FAULT + AFTER;
  const gain = FEATURES.map(() => 0.5 + r());
  const offset = FEATURES.map(() => 10 + 90 * r());
  // Three noisy channels: noise comparable to the process's own swing.
  const noise = FEATURES.map((_, i) => (i === 5 || i === 6 || i === 7 ? 0.8 : 0.08));
  const period = 40 + 40 * r();
  let drift = 0;
  let ar = 0;
  const target = Math.floor(r() * FEATURES.length);
  const rows: number[][] = [];
  const labels = new Uint8Array(n);
  let stuckAt = NaN;
  let own = 0;
  for (let t = 0; t < n; t++) {
    ar = 0.95 * ar + 0.1 * gauss(r);
    const proc = Math.sin((2 * Math.PI * t) / period) + ar;
    const inFault = t >= NORMAL && t < NORMAL + FAULT;
    labels[t] = inFault ? 1 : 0;
    const row = FEATURES.map((_, i) => offset[i]! + gain[i]! * proc + noise[i]! * gauss(r));
    if (inFault) {
      const k = t - NORMAL;
      if (fault === 'level-shift') for (const i of [0, 1, 2]) row[i] = row[i]! - 3 * gain[i]!; // valve closed: pressures and flow drop and stay
      if (fault === 'stuck') row[target] = Number.isNaN(stuckAt) ? (stuckAt = row[target]!) : stuckAt;
      if (fault === 'drift') row[target] = row[target]! + (drift += (0.02 * gain[target]!)) ;
      if (fault === 'variance') row[target] = row[target]! + 4 * (noise[target]! + 0.2 * gain[target]!) * gauss(r);
      if (fault === 'broken-relation') {
        own = 0.95 * own + 0.25 * gauss(r);
        row[target] = offset[target]! + gain[target]! * Math.max(-1.5, Math.min(1.5, own)) + noise[target]! * gauss(r) - gain[target]! * 0 * k;
      }
      if (fault === 'spikes' && k % 25 === 0) row[target] = row[target]! + 8 * gain[target]!;
    }
    rows.push(row);
  }
  return { fault, rows, labels };
}

async function stream(model: Model, exps: readonly Experiment[]): Promise<Result[][]> {
  const engine = new Engine(model, { ...OVERRIDES, features: FEATURES, maxDelayMs: 0 });
  const out: Result[][] = exps.map(() => []);
  const n = exps[0]!.rows.length;
  for (let t = 0; t < n; t++) {
    const rs = await Promise.all(exps.map((e, d) => engine.push({ device: `exp-${d}`, ts: t * 1000, values: e.rows[t]! })));
    rs.forEach((r, d) => out[d]!.push(r));
  }
  await engine.close();
  return out;
}

function f1(results: Result[][], exps: readonly Experiment[], which: (e: Experiment) => boolean): { p: number; r: number; f1: number; alarms: number } {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let alarms = 0;
  let count = 0;
  results.forEach((rs, d) => {
    if (!which(exps[d]!)) return;
    count++;
    rs.forEach((res, t) => {
      const y = exps[d]!.labels[t] === 1;
      if (res.anomaly && y) tp++;
      else if (res.anomaly) fp++;
      else if (y) fn++;
      if (res.episode?.state === 'start') alarms++;
    });
  });
  const p = tp / Math.max(1, tp + fp);
  const r = tp / Math.max(1, tp + fn);
  return { p, r, f1: p + r > 0 ? (2 * p * r) / (p + r) : 0, alarms: alarms / Math.max(1, count) };
}

async function main(): Promise<void> {
  const exps: Experiment[] = [];
  let seed = 1;
  for (const f of FAULTS) for (let k = 0; k < PER_FAULT; k++) exps.push(experiment(f, seed++));
  const lstm = await loadModel(defaultModelPath());
  const detectors: [string, Model][] = [['lstm (shipped generic, channel-independent)', lstm], ['zscore control (running mean)', controlModel('mean', ['value'])], ['persistence control', controlModel('persistence', ['value'])]];
  const lines: string[] = [`${exps.length} experiments (${PER_FAULT} per fault), ${FEATURES.length} features, ${NORMAL} normal + ${FAULT} fault + ${AFTER} normal readings each; point-wise F1 of the default \`anomaly\` flag`, ''];
  lines.push(`| detector | ${FAULTS.join(' | ')} | all: precision | recall | F1 | alarms per experiment |`);
  lines.push(`|---|${FAULTS.map(() => '---|').join('')}---|---|---|---|`);
  for (const [name, model] of detectors) {
    const t0 = performance.now();
    const rs = await stream(model, exps);
    const cells = FAULTS.map((f) => f1(rs, exps, (e) => e.fault === f).f1.toFixed(2));
    const all = f1(rs, exps, () => true);
    lines.push(`| ${name} | ${cells.join(' | ')} | ${all.p.toFixed(2)} | ${all.r.toFixed(2)} | **${all.f1.toFixed(2)}** | ${all.alarms.toFixed(1)} |`);
    process.stderr.write(`${name}: ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  }
  await lstm.release();
  process.stdout.write(`${lines.join('\n')}\n`);
}

void main();
