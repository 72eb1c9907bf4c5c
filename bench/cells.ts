/**
 * LSTM against GRU as a generic model: `npm run bench:cells`. The LSTM is the
 * shipped `generic` model; the GRU is trained here from the same recipe
 * (generic-recipe.ts: the same synthetic corpus, seed, window, epochs,
 * normalization; only the cell differs). Both, float32 and int8, are scored
 * in the same run: one-step forecasts on the held-out synthetic series
 * (RMSE against naive persistence, as the model card), file size, state
 * bytes per device and device-steps/s through the engine (10k devices,
 * native, batched), and with --nab DIR the NAB standard score and forecast
 * MASE of `edgelstm eval nab --detector lstm --model FILE`.
 *
 *   node dist/bench/cells.js [--quick] [--nab ../shared/datasets/nab] [--out-dir reports/cells]
 */
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { Engine } from '../runtime/engine/engine';
import type { Result } from '../runtime/engine/sample';
import { loadModel } from '../runtime/model/load-model';
import { packageRoot } from '../runtime/model/default-model';
import { quantizeModel } from '../models/quantize/quantize-model';
import { exportModel, trainingSummary } from '../models/toolchain/export-model';
import { scoreForecasts, summarize } from '../models/toolchain/forecast-check';
import { GENERIC_RECIPE } from '../models/toolchain/generic-recipe';
import { prepareSeries } from '../models/toolchain/series-data';
import { syntheticCorpus } from '../models/toolchain/signals';
import { trainLstm, type TrainOptions } from '../models/toolchain/train';

const arg = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const quick = process.argv.includes('--quick');
const nabDir = arg('--nab');
const outDir = arg('--out-dir') ?? join(packageRoot(), 'reports', 'cells');

interface Row {
  model: string;
  bytes: number;
  medianRmseRatio: number;
  shareBetter: number;
  stateBytes: number;
  stepsPerSec: number;
  nabStandard?: number;
  nabMase?: number;
}

function trainGru(): { bytes: Uint8Array; seconds: number } {
  const r = GENERIC_RECIPE;
  const train = quick ? { ...r.train, series: 12, length: 600 } : r.train;
  const opts: TrainOptions = { ...(quick ? { ...r.options, epochs: 2, windowsPerEpoch: 64 } : r.options), cell: 'gru' };
  const corpus = syntheticCorpus(train.seed, train.series, train.length);
  const prepared = corpus.map((s) => prepareSeries({ name: s.name, columns: [s.values] }, r.normalization, [0]));
  process.stderr.write(`training the GRU on ${train.series} series (recipe of ${r.name}, only the cell differs)\n`);
  const result = trainLstm(prepared, 1, 1, opts, {
    onEpoch: (e) => process.stderr.write(`  epoch ${e.epoch}/${e.epochs} val ${e.valLoss?.toFixed(4) ?? '-'} ${e.best ? '(best)' : ''}\n`),
  });
  const bytes = exportModel(result.weights, {
    name: `${r.name}-gru`, version: r.version, features: ['value'], targets: ['value'], normalization: r.normalization,
    training: trainingSummary(result, { source: 'synthetic (models/toolchain/signals.ts)', series: train.series, length: train.length }, { ...opts }),
  });
  return { bytes, seconds: result.durationMs / 1000 };
}

async function heldOut(bytes: Uint8Array): Promise<{ medianRmseRatio: number; shareBetter: number }> {
  const r = GENERIC_RECIPE;
  const h = quick ? { ...r.heldOut, series: 6, length: 600 } : r.heldOut;
  const m = await loadModel(bytes, { sidecar: false });
  const { H, L } = m.dims;
  await m.release();
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const scores = [];
  for (const s of syntheticCorpus(h.seed, h.series, h.length)) scores.push(await scoreForecasts(session, r.normalization, H, L, s.name, s.values, Math.min(r.scoreFrom, h.length / 4)));
  await session.release();
  const sum = summarize(scores);
  return { medianRmseRatio: sum.medianRmseRatio, shareBetter: sum.shareBetter };
}

/** Device-steps/s of the engine with 10k devices, each sending one reading per round, batched (the library path). */
async function throughput(bytes: Uint8Array): Promise<{ stepsPerSec: number; stateBytes: number }> {
  const m = await loadModel(bytes, { sidecar: false, threads: 1 });
  const engine = new Engine(m, { maxDelayMs: 0, maxBatch: 4096 });
  const n = quick ? 2000 : 10_000;
  const rounds = quick ? 5 : 20;
  const ids = Array.from({ length: n }, (_, i) => `d${i}`);
  const perRound: number[] = [];
  for (let r = 0; r <= rounds; r++) {
    const t0 = performance.now();
    await new Promise<void>((resolve, reject) => {
      let left = n;
      for (let i = 0; i < n; i++) {
        const bad = engine.submit({ device: ids[i]!, ts: r * 1000, values: [Math.sin(i + r * 0.1)] }, (err: Error | null, res: Result | undefined) => {
          if (err || !res) reject(err ?? new Error('no result'));
          else if (--left === 0) resolve();
        });
        if (bad) reject(bad);
      }
    });
    if (r > 0) perRound.push((performance.now() - t0) / n);
  }
  perRound.sort((a, b) => a - b);
  const stateBytes = engine.store.bytesPerDevice();
  await engine.close();
  await m.release();
  return { stepsPerSec: 1000 / perRound[Math.floor(perRound.length / 2)]!, stateBytes };
}

function nab(file: string): Promise<{ standard: number; mase: number }> {
  const cli = join(packageRoot(), 'dist', 'runtime', 'cli', 'main.js');
  const json = `${file}.nab.json`;
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [cli, 'eval', 'nab', '--data', nabDir!, '--detector', 'lstm', '--model', file, '--json', json, '--quiet'], { maxBuffer: 64 << 20 }, (err, _out, stderr) => {
      if (err) return reject(new Error(`eval nab ${file}: ${stderr}`));
      const s = JSON.parse(readFileSync(json, 'utf8')) as { scores: { profile: string; normalized: number }[]; forecast: { groups: { group: string; methods: { detector?: { mase: number } } }[] } };
      const standard = s.scores.find((x) => x.profile === 'standard');
      const all = s.forecast.groups.find((g) => g.group === 'all');
      resolve({ standard: standard?.normalized ?? NaN, mase: all?.methods.detector?.mase ?? NaN });
    });
  });
}

async function main(): Promise<void> {
  mkdirSync(outDir, { recursive: true });
  const lstm = readFileSync(join(packageRoot(), 'models', 'generic', 'generic.onnx'));
  const gru = trainGru();
  const files: [string, Uint8Array][] = [
    ['LSTM H32 (shipped generic)', lstm],
    ['LSTM H32 int8', quantizeModel(lstm)],
    ['GRU H32 (same recipe)', gru.bytes],
    ['GRU H32 int8', quantizeModel(gru.bytes)],
  ];
  const rows: Row[] = [];
  for (const [name, bytes] of files) {
    const file = join(outDir, `${name.split(' ')[0]!.toLowerCase()}${name.includes('int8') ? '-int8' : ''}.onnx`);
    writeFileSync(file, bytes);
    const row: Row = { model: name, bytes: bytes.length, ...(await heldOut(bytes)), ...(await throughput(bytes)) };
    if (nabDir && !name.includes('int8')) {
      const n = await nab(file);
      row.nabStandard = n.standard;
      row.nabMase = n.mase;
    }
    rows.push(row);
    process.stderr.write(`${name}: done\n`);
  }
  const f = (v: number | undefined, d: number): string => (v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(d));
  const lines = [
    `LSTM vs GRU, generic recipe${quick ? ' (--quick: tiny corpus, 2 epochs; not the real comparison)' : ''}; GRU trained in ${gru.seconds.toFixed(0)} s; node ${process.version}, ${process.arch}`,
    '',
    '| model | file bytes | held-out RMSE / persistence (median) | beats persistence | state bytes/device | device-steps/s (10k devices, native) | NAB standard | NAB forecast MASE |',
    '|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.model} | ${r.bytes} | ${f(r.medianRmseRatio, 3)} | ${f(r.shareBetter * 100, 0)}% | ${r.stateBytes} | ${f(r.stepsPerSec, 0)} | ${f(r.nabStandard, 1)} | ${f(r.nabMase, 3)} |`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 1;
});
