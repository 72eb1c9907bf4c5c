/**
 * Engine throughput: `npm run bench:engine`. Devices 1, 100, 10k, 100k; H32
 * and H64; native and wasm; the batched engine against the naive way (one
 * ONNX Runtime call per sample, maxBatch 1) in the same run. Prints medians
 * over rounds; a round is every device sending one reading, either in turn
 * (the order their slots were made in) or in a random order per round.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Engine } from '../runtime/engine/engine';
import type { Result } from '../runtime/engine/sample';
import { loadModel, type Model } from '../runtime/model/load-model';
import { buildLstmModel } from '../runtime/onnx/lstm-graph';
import { encodeMetadata } from '../runtime/model/metadata';
import { randomWeights } from '../runtime/model/weights';

interface Row {
  backend: string;
  H: number;
  devices: number;
  mode: string;
  stepsPerSec: number;
  p50: number;
  p99: number;
  bytesPerDevice: number;
  loopP99: number;
}

const quick = process.argv.includes('--quick');

function modelBytes(H: number): Uint8Array {
  const w = randomWeights(1, H, 1, 1, 42);
  return buildLstmModel(w, {
    metadata: encodeMetadata({
      format: 1, name: `bench-h${H}`, version: '1.0.0', features: ['value'], targets: ['value'],
      normalization: { mode: 'per-device', window: 500, minStd: 1e-3 },
      io: { x: 'x', h0: 'h0', c0: 'c0', y: 'y', hn: 'hn', cn: 'cn' }, quantization: { scheme: 'none' },
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
function round(engine: Engine, ids: string[], n: number, t: number, r: number, order?: readonly number[]): Promise<void> {
  return new Promise((resolve, reject) => {
    let left = n;
    const done = (err: Error | null, res: Result | undefined): void => {
      if (err || !res) reject(err ?? new Error('no result'));
      else if (--left === 0) resolve();
    };
    const produce = (from: number): void => {
      const to = Math.min(n, from + PRODUCER_CHUNK);
      for (let k = from; k < to; k++) {
        const d = order ? order[k]! : k;
        const bad = engine.submit({ device: ids[d]!, ts: t, values: [Math.sin(d + r * 0.1)] }, done);
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

async function measure(model: Model, devices: number, naive: boolean, backendName: string, H: number, shuffled = false): Promise<Row> {
  const engine = new Engine(model, { maxBatch: naive ? 1 : 4096, maxDelayMs: 0, maxDevices: Math.max(devices, 1) });
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
  await round(engine, ids, perRoundDevices, t, 0);
  batchMs.length = 0;
  loop.enable();
  for (let r = 0; r < rounds; r++) {
    t += 1000;
    const start = performance.now();
    await round(engine, ids, perRoundDevices, t, r, orders?.[r % orders.length]);
    roundTimes.push((performance.now() - start) / perRoundDevices);
  }
  loop.disable();
  await engine.close();
  const perStep = quantile(roundTimes, 0.5);
  return {
    backend: backendName, H, devices, mode: naive ? 'naive (1 call/sample)' : shuffled ? 'batched, random order' : 'batched, in turn',
    stepsPerSec: 1000 / perStep,
    p50: quantile(batchMs, 0.5), p99: quantile(batchMs, 0.99),
    bytesPerDevice: engine.store.bytesPerDevice(),
    loopP99: loop.percentile(99) / 1e6,
  };
}

async function main(): Promise<void> {
  const deviceCounts = quick ? [1, 100, 10_000] : [1, 100, 10_000, 100_000];
  const rows: Row[] = [];
  for (const backend of ['native', 'wasm'] as const) {
    for (const H of [32, 64]) {
      const model = await loadModel(modelBytes(H), { backend, threads: 1 });
      for (const devices of deviceCounts) {
        const batched = await measure(model, devices, false, backend, H);
        const shuffled = devices > 1 ? await measure(model, devices, false, backend, H, true) : undefined;
        const naive = await measure(model, devices, true, backend, H);
        rows.push(batched, ...(shuffled ? [shuffled] : []), naive);
        process.stderr.write(`${backend} H${H} ${devices} devices: ${Math.round(batched.stepsPerSec)} vs ${Math.round(naive.stepsPerSec)} steps/s\n`);
      }
      await model.release();
    }
  }
  const fmt = (n: number, d = 0): string => (Number.isFinite(n) ? n.toFixed(d) : '-');
  const lines = [
    `edgelstm engine benchmark: node ${process.version}, ${process.arch}, onnxruntime 1 thread, F=1 T=1 L=1, maxBatch 4096`,
    '',
    '| backend | H | devices | mode | device-steps/s | batched / naive | batch p50 ms | batch p99 ms | state bytes/device | event-loop p99 ms |',
    '|---|---|---|---|---|---|---|---|---|---|',
  ];
  // Each group: the batched rows, then the naive row they are compared with.
  for (let i = 0; i < rows.length; ) {
    let j = i;
    while (!rows[j]!.mode.startsWith('naive')) j++;
    const n = rows[j]!;
    for (const r of rows.slice(i, j + 1)) {
      const ratio = r === n ? '' : `${fmt(r.stepsPerSec / n.stepsPerSec, 1)}x`;
      lines.push(`| ${r.backend} | ${r.H} | ${r.devices} | ${r.mode} | ${fmt(r.stepsPerSec)} | ${ratio} | ${fmt(r.p50, 3)} | ${fmt(r.p99, 3)} | ${r.bytesPerDevice} | ${fmt(r.loopP99, 1)} |`);
    }
    i = j + 1;
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 1;
});
