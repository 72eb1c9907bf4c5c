/**
 * Engine throughput: `npm run bench:engine`. Devices 1, 100, 10k, 100k; H32
 * and H64; LSTM and GRU; native and wasm; the batched engine against the naive way (one
 * ONNX Runtime call per sample, maxBatch 1) in the same run. Prints medians
 * over rounds; a round is every device sending one reading, either in turn
 * (the order their slots were made in) or in a random order per round.
 *
 * The batched engine is fed through submitColumnar (no Result object per
 * reading); the "Result objects" row feeds the same engine through submit.
 * `--previous <dir>` also runs the previous design, the compiled tree of an
 * earlier commit (bench/build-previous.sh makes one), on the same model in
 * the same run; `--repeats n` runs every row n times, interleaved, and
 * reports medians. device-steps/s is wall time; "CPU/step" is this process's
 * CPU time per device-step, the steadier figure on a shared machine.
 * Restrict with `--hidden 32 --devices 10000,100000 --cell lstm --backend native`.
 * `--split` adds a table of where the in-turn row's CPU per step goes: ONNX
 * Runtime alone, the detector (scoring/) alone, and the rest (engine-split.ts).
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { join, resolve } from 'node:path';
import type { BatchResults } from '../runtime/engine/batch-results';
import { Engine } from '../runtime/engine/engine';
import type { Result, Sample } from '../runtime/engine/sample';
import { loadModel, type Model } from '../runtime/model/load-model';
import { buildLstmModel } from '../runtime/onnx/lstm-graph';
import { encodeMetadata } from '../runtime/model/metadata';
import { randomWeights } from '../runtime/contract/weights';
import { splitRow, type SplitRow } from './engine-split';

type Cell = 'lstm' | 'gru';

interface Row {
  backend: string;
  cell: Cell;
  H: number;
  devices: number;
  mode: string;
  stepsPerSec: number;
  /** CPU microseconds of this process per device-step. */
  cpuUs: number;
  p50: number;
  p99: number;
  bytesPerDevice: number;
  loopP99: number;
}

const quick = process.argv.includes('--quick');
/** `--cell lstm` or `--cell gru` measures one cell only; default both. */
const cellArg = process.argv.indexOf('--cell');
const cells: Cell[] = cellArg > 0 ? [process.argv[cellArg + 1] as Cell] : ['lstm', 'gru'];
/** `--backend native` or `--backend wasm` measures one backend only; default both. */
const backendArg = process.argv.indexOf('--backend');
const backends = backendArg > 0 ? [process.argv[backendArg + 1] as 'native' | 'wasm'] : (['native', 'wasm'] as const);
const argOf = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
/** `--hidden 32` (or `32,64`): hidden sizes; default 32 and 64. */
const hiddens = (argOf('--hidden') ?? '32,64').split(',').map(Number);
/** `--devices 10000,100000`: fleet sizes; default 1, 100, 10k, 100k (no 100k with --quick). */
const devicesArg = argOf('--devices')?.split(',').map(Number);
const repeats = Math.max(1, Number(argOf('--repeats') ?? '1'));
/** `--previous <dir>`: a compiled tree of an earlier commit (its dist/), run as the previous design. */
const previousDir = argOf('--previous');
const split = process.argv.includes('--split');

/** What the bench needs of an engine: the current one, or the previous design's. */
interface BenchEngine {
  submit(sample: Sample, done: (err: Error | null, r: Result | undefined) => void): Error | undefined;
  submitColumnar?(sample: Sample, done: (err: Error | null, b: BatchResults | undefined, i: number) => void): Error | undefined;
  close(): Promise<void>;
  onBatch: ((b: { size: number; ms: number }) => void) | undefined;
  readonly store: { bytesPerDevice(): number };
}
interface Design {
  name: string;
  loadModel(bytes: Uint8Array, o: { backend: 'native' | 'wasm'; threads: number }): Promise<Model>;
  engine(model: Model, o: { maxBatch: number; maxDelayMs: number; maxDevices: number }): BenchEngine;
  columnar: boolean;
}
const current: Design = { name: 'current', loadModel, engine: (m, o) => new Engine(m, o), columnar: true };
const currentResults: Design = { ...current, name: 'current, Result objects', columnar: false };

function previousDesign(dir: string): Design {
  const root = resolve(dir);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const eng = require(join(root, 'runtime/engine/engine')) as { Engine: new (m: Model, o: object) => BenchEngine };
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const lm = require(join(root, 'runtime/model/load-model')) as { loadModel: Design['loadModel'] };
  return { name: 'previous design', loadModel: lm.loadModel, engine: (m, o) => new eng.Engine(m, o), columnar: false };
}

function modelBytes(H: number, cell: Cell): Uint8Array {
  const w = randomWeights(1, H, 1, 1, 42, false, cell);
  const gru = cell === 'gru' ? { ...w, layers: w.layers.map((l) => ({ ...l, attributes: { linearBeforeReset: true } })) } : w;
  return buildLstmModel(gru, {
    metadata: encodeMetadata({
      format: 1, name: `bench-${cell}-h${H}`, version: '1.0.0', features: ['value'], targets: ['value'],
      normalization: { mode: 'per-device', window: 500, minStd: 1e-3 },
      io: cell === 'gru' ? { x: 'x', h0: 'h0', y: 'y', hn: 'hn' } : { x: 'x', h0: 'h0', c0: 'c0', y: 'y', hn: 'hn', cn: 'cn' },
      quantization: { scheme: 'none' },
    }),
  });
}

function quantile(a: number[], q: number): number {
  if (a.length === 0) return NaN;
  const s = [...a].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}

/** Readings the producer hands over per event-loop turn, as a socket's 'data' event would. */
const PRODUCER_CHUNK = 1024;

/**
 * Every device sends one reading through `submit` (the engine's high-rate
 * entry), PRODUCER_CHUNK per event-loop turn, so the event-loop delay column
 * measures the engine, not a producer that queues 100k readings in one go.
 * Resolves when all results are in.
 */
function round(engine: BenchEngine, columnar: boolean, ids: string[], n: number, t: number, r: number, order?: readonly number[]): Promise<void> {
  return new Promise((resolve, reject) => {
    let left = n;
    const done = (err: Error | null, res: Result | undefined): void => {
      if (err || !res) reject(err ?? new Error('no result'));
      else if (--left === 0) resolve();
    };
    // What a high-rate caller does with a columnar row: reads a field or two, builds nothing.
    const doneColumnar = (err: Error | null, b: BatchResults | undefined, i: number): void => {
      if (err || !b || b.ts(i) !== t) reject(err ?? new Error('no result'));
      else if (--left === 0) resolve();
    };
    const submitColumnar = columnar ? engine.submitColumnar : undefined;
    const produce = (from: number): void => {
      const to = Math.min(n, from + PRODUCER_CHUNK);
      for (let k = from; k < to; k++) {
        const d = order ? order[k]! : k;
        const sample = { device: ids[d]!, ts: t, values: [Math.sin(d + r * 0.1)] };
        const bad = submitColumnar ? submitColumnar.call(engine, sample, doneColumnar) : engine.submit(sample, done);
        if (bad) reject(bad);
      }
      if (to < n) setImmediate(produce, to);
    };
    produce(0);
  });
}

/** A seeded permutation of 0..n-1: devices reporting in an arbitrary order, as over MQTT. */
function permutation(n: number, seed: number): number[] {
  const p = Array.from({ length: n }, (_, i) => i);
  let x = seed >>> 0 || 1;
  for (let i = n - 1; i > 0; i--) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const j = (x >>> 0) % (i + 1);
    [p[i], p[j]] = [p[j]!, p[i]!];
  }
  return p;
}

async function measure(design: Design, model: Model, devices: number, naive: boolean, backendName: string, H: number, shuffled = false): Promise<Row> {
  const engine = design.engine(model, { maxBatch: naive ? 1 : 4096, maxDelayMs: 0, maxDevices: Math.max(devices, 1) });
  const ids = Array.from({ length: devices }, (_, i) => `dev-${i}`);
  const batchMs: number[] = [];
  engine.onBatch = (b) => batchMs.push(b.ms);
  // Budget: enough samples for a stable median without running for minutes.
  const budget = naive ? (quick ? 2_000 : 10_000) : quick ? 200_000 : 1_000_000;
  const rounds = Math.max(3, Math.min(200, Math.ceil(budget / devices)));
  const perRoundDevices = naive ? Math.min(devices, Math.ceil(budget / rounds)) : devices;
  const orders = shuffled ? [1, 2, 3, 4].map((k) => permutation(perRoundDevices, k)) : undefined;
  const loop = monitorEventLoopDelay({ resolution: 1 });
  const roundTimes: number[] = [];
  let t = 0;
  // One warm-up round creates every device's slot.
  await round(engine, design.columnar, ids, perRoundDevices, t, 0);
  batchMs.length = 0;
  const cpuTimes: number[] = [];
  loop.enable();
  for (let r = 0; r < rounds; r++) {
    t += 1000;
    const start = performance.now();
    const cpu0 = process.cpuUsage();
    await round(engine, design.columnar, ids, perRoundDevices, t, r, orders?.[r % orders.length]);
    const cpu = process.cpuUsage(cpu0);
    roundTimes.push((performance.now() - start) / perRoundDevices);
    cpuTimes.push((cpu.user + cpu.system) / perRoundDevices);
  }
  loop.disable();
  await engine.close();
  const perStep = quantile(roundTimes, 0.5);
  return {
    backend: backendName, cell: model.cell, H, devices, mode: `${naive ? 'naive (1 call/sample)' : shuffled ? 'batched, random order' : 'batched, in turn'}${naive || design === current ? '' : `, ${design.name}`}`,
    stepsPerSec: 1000 / perStep,
    cpuUs: quantile(cpuTimes, 0.5),
    p50: quantile(batchMs, 0.5), p99: quantile(batchMs, 0.99),
    bytesPerDevice: engine.store.bytesPerDevice(),
    loopP99: loop.percentile(99) / 1e6,
  };
}

/** Medians over repeats, field by field (the row of the median steps/s keeps its mode and sizes). */
function medianRow(rs: Row[]): Row {
  const m = (f: (r: Row) => number): number => quantile(rs.map(f), 0.5);
  return { ...rs[0]!, stepsPerSec: m((r) => r.stepsPerSec), cpuUs: m((r) => r.cpuUs), p50: m((r) => r.p50), p99: m((r) => r.p99), loopP99: m((r) => r.loopP99) };
}

async function main(): Promise<void> {
  const deviceCounts = devicesArg ?? (quick ? [1, 100, 10_000] : [1, 100, 10_000, 100_000]);
  const previous = previousDir !== undefined ? previousDesign(previousDir) : undefined;
  const rows: Row[] = [];
  const splits: { row: Row; parts: SplitRow }[] = [];
  for (const backend of backends) {
    for (const H of hiddens) {
      for (const cell of cells) {
        const bytes = modelBytes(H, cell);
        const model = await loadModel(bytes, { backend, threads: 1 });
        const prevModel = previous !== undefined ? await previous.loadModel(bytes, { backend, threads: 1 }) : undefined;
        for (const devices of deviceCounts) {
          // Every configuration `repeats` times, interleaved, so a burst of load elsewhere hits them alike.
          const runs: (() => Promise<Row>)[] = [
            () => measure(current, model, devices, false, backend, H),
            ...(devices > 1 ? [() => measure(current, model, devices, false, backend, H, true)] : []),
            () => measure(currentResults, model, devices, false, backend, H, devices > 1),
            ...(prevModel !== undefined && previous !== undefined
              ? [() => measure(previous, prevModel, devices, false, backend, H), ...(devices > 1 ? [() => measure(previous, prevModel, devices, false, backend, H, true)] : [])]
              : []),
            () => measure(current, model, devices, true, backend, H),
          ];
          const got: Row[][] = runs.map(() => []);
          for (let k = 0; k < repeats; k++) for (let j = 0; j < runs.length; j++) got[j]!.push(await runs[j]!());
          const group = got.map(medianRow);
          rows.push(...group);
          if (split) {
            const parts: SplitRow[] = [];
            for (let k = 0; k < repeats; k++) parts.push(await splitRow(model, devices, H));
            const m = (f: (p: SplitRow) => number): number => quantile(parts.map(f), 0.5);
            splits.push({ row: group[0]!, parts: { batch: parts[0]!.batch, ortUs: m((p) => p.ortUs), detectorUs: m((p) => p.detectorUs), detectorWarmupUs: m((p) => p.detectorWarmupUs) } });
          }
          process.stderr.write(`${backend} ${cell} H${H} ${devices} devices: ${group.map((r) => `${r.mode} ${Math.round(r.stepsPerSec)}`).join('; ')}\n`);
        }
        await model.release();
        await prevModel?.release();
      }
    }
  }
  const fmt = (n: number, d = 0): string => (Number.isFinite(n) ? n.toFixed(d) : '-');
  const lines = [
    `edgelstm engine benchmark: node ${process.version}, ${process.arch}, onnxruntime 1 thread, F=1 T=1 L=1, maxBatch 4096, medians of ${repeats} repeat(s) of >= 3 rounds`,
    '',
    '| backend | cell | H | devices | mode | device-steps/s | CPU us/step | / naive | / previous (same order) | batch p50 ms | batch p99 ms | state bytes/device | event-loop p99 ms |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  // Each group: the batched rows, then the naive row they are compared with.
  for (let i = 0; i < rows.length; ) {
    let j = i;
    while (!rows[j]!.mode.startsWith('naive')) j++;
    const n = rows[j]!;
    const group = rows.slice(i, j + 1);
    const prevOf = (r: Row): Row | undefined => {
      const order = r.mode.includes('random') ? 'random' : 'in turn';
      return group.find((p) => p.mode.endsWith('previous design') && p.mode.includes(order));
    };
    for (const r of group) {
      const ratio = r === n ? '' : `${fmt(r.stepsPerSec / n.stepsPerSec, 1)}x`;
      const p = r === n || r.mode.endsWith('previous design') ? undefined : prevOf(r);
      const vsPrev = p === undefined ? '' : `${fmt(r.stepsPerSec / p.stepsPerSec, 2)}x (CPU ${fmt(p.cpuUs / r.cpuUs, 2)}x)`;
      lines.push(`| ${r.backend} | ${r.cell.toUpperCase()} | ${r.H} | ${r.devices} | ${r.mode} | ${fmt(r.stepsPerSec)} | ${fmt(r.cpuUs, 3)} | ${ratio} | ${vsPrev} | ${fmt(r.p50, 3)} | ${fmt(r.p99, 3)} | ${r.bytesPerDevice} | ${fmt(r.loopP99, 1)} |`);
    }
    i = j + 1;
  }
  if (splits.length > 0) {
    lines.push('', 'Where the in-turn row\'s CPU per device-step goes (each part measured alone, medians of the repeats; rest = engine - ONNX Runtime - detector past warm-up):', '',
      '| backend | cell | H | devices | engine us/step | ONNX Runtime alone us/device (batch) | detector us/reading past warm-up | in warm-up | rest us/step |', '|---|---|---|---|---|---|---|---|---|');
    for (const { row: r, parts: p } of splits) {
      lines.push(`| ${r.backend} | ${r.cell.toUpperCase()} | ${r.H} | ${r.devices} | ${fmt(r.cpuUs, 3)} | ${fmt(p.ortUs, 3)} (${p.batch}) | ${fmt(p.detectorUs, 3)} | ${fmt(p.detectorWarmupUs, 3)} | ${fmt(r.cpuUs - p.ortUs - p.detectorUs, 3)} |`);
    }
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 1;
});
