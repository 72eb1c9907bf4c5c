import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { OptionSpecs } from '../../runtime/cli/args';
import { defineCommand } from '../../runtime/cli/command';
import { packageRoot } from '../../runtime/model/default-model';
import { writeFileAtomic } from '../../runtime/util/atomic-write';
import { exportModel, trainingSummary } from '../toolchain/export-model';
import { scoreForecasts, summarize, type ForecastScore } from '../toolchain/forecast-check';
import { GENERIC_RECIPE } from '../toolchain/generic-recipe';
import { lossChartHtml } from '../toolchain/loss-chart';
import { modelCard } from '../toolchain/model-card';
import { ProgressBar } from '../toolchain/progress-bar';
import { prepareSeries } from '../toolchain/series-data';
import { quantizeModel } from '../quantize/quantize-model';
import { SIGNAL_FAMILIES, syntheticCorpus } from '../toolchain/signals';
import { trainLstm, type TrainOptions } from '../toolchain/train';

const SPECS = {
  'out-dir': { type: 'string', description: 'where the generic model, its chart and card go (default: models/generic in the package)' },
  quick: { type: 'boolean', default: false, description: 'a tiny corpus and two epochs: checks the pipeline in seconds, not a usable model' },
} satisfies OptionSpecs;

/**
 * Rebuilds every shipped model from scratch (today: `generic`), from the
 * recipe in generic-recipe.ts and the seeded signal generator: the same
 * weights on every run. Writes the model, its loss chart and its card.
 */
export const main = defineCommand({ usage: 'build-models [--out-dir DIR] [--quick]', options: SPECS }, async (o) => {
  await buildGeneric(o['out-dir'] ?? join(packageRoot(), 'models', 'generic'), o.quick);
});

export async function buildGeneric(outDir: string, quick: boolean): Promise<void> {
  const r = GENERIC_RECIPE;
  const train = quick ? { ...r.train, series: 12, length: 600 } : r.train;
  const heldOut = quick ? { ...r.heldOut, series: 6, length: 600 } : r.heldOut;
  const opts: TrainOptions = quick ? { ...r.options, epochs: 2, windowsPerEpoch: 64 } : { ...r.options };
  mkdirSync(outDir, { recursive: true });
  const log = process.stderr;
  log.write(`generic: generating ${train.series} synthetic series of ${train.length} samples (seed ${train.seed})\n`);
  const corpus = syntheticCorpus(train.seed, train.series, train.length);
  const prepared = corpus.map((s) => prepareSeries({ name: s.name, columns: [s.values] }, r.normalization, [0]));
  const result = trainLstm(prepared, 1, 1, opts, new ProgressBar(log, opts.epochs));

  const data = {
    source: 'synthetic (models/toolchain/signals.ts); no outside data',
    generatorSeed: train.seed,
    series: train.series,
    length: train.length,
    // The families the corpus holds (daily-steps only when the recipe asks for it).
    families: SIGNAL_FAMILIES.filter((f) => corpus.some((c) => c.families.includes(f))),
  };
  const bytes = exportModel(result.weights, {
    name: r.name,
    version: r.version,
    features: ['value'],
    targets: ['value'],
    normalization: r.normalization,
    training: trainingSummary(result, data, { ...opts }),
  });
  const file = join(outDir, `${r.name}.onnx`);
  writeFileAtomic(file, bytes);
  const delta = opts.huberDelta ?? 0;
  const lossWords = delta > 0 && !opts.logvar ? `the Huber loss (delta ${delta}: squared error within it, linear beyond)` : opts.logvar ? 'Gaussian negative log-likelihood' : 'squared error';
  const lossName = delta > 0 && !opts.logvar ? `Huber loss, delta ${delta} (normalized units)` : opts.logvar ? 'Gaussian negative log-likelihood' : 'mean squared error (normalized units)';
  writeFileAtomic(join(outDir, `${r.name}.loss.html`), lossChartHtml(`${r.name} ${r.version}`, result.history, result.bestEpoch, lossName));
  log.write(`wrote ${file} (${bytes.length} bytes, ${(result.durationMs / 1000).toFixed(0)} s of training)\n`);

  // Held-out check and latency, on the file as shipped.
  const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const held = syntheticCorpus(heldOut.seed, heldOut.series, heldOut.length);
  const scores: ForecastScore[] = [];
  for (const s of held) scores.push(await scoreForecasts(session, r.normalization, opts.hidden, opts.layers, s.name, s.values, Math.min(r.scoreFrom, heldOut.length / 4)));
  const summary = summarize(scores);
  const byFamily = SIGNAL_FAMILIES.map((family) => {
    const sel = scores.filter((_, i) => held[i]!.families.includes(family));
    return sel.length ? { family, ...pick(summarize(sel)) } : undefined;
  }).filter((x): x is NonNullable<typeof x> => x !== undefined);
  const latency = [];
  for (const batch of [1, 256, 4096]) latency.push({ batch, ...(await timeStep(session, batch, opts.hidden, opts.layers)) });
  await session.release();

  // The int8 variant: made from the shipped fp32 file, scored on the same held-out series.
  const int8Bytes = quantizeModel(bytes, { file });
  const int8File = join(outDir, `${r.name}-int8.onnx`);
  writeFileAtomic(int8File, int8Bytes);
  const int8Session = await ort.InferenceSession.create(int8Bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const int8Scores: ForecastScore[] = [];
  for (const s of held) int8Scores.push(await scoreForecasts(int8Session, r.normalization, opts.hidden, opts.layers, s.name, s.values, Math.min(r.scoreFrom, heldOut.length / 4)));
  const int8Latency = [];
  for (const batch of [1, 256, 4096]) int8Latency.push({ batch, ...(await timeStep(int8Session, batch, opts.hidden, opts.layers)) });
  await int8Session.release();
  const rmseChange = medianRelativeChange(int8Scores.map((s, i) => s.rmse / scores[i]!.rmse));
  log.write(`wrote ${int8File} (${int8Bytes.length} bytes, ${(bytes.length / int8Bytes.length).toFixed(2)}x smaller; held-out RMSE change vs fp32: median ${(rmseChange.median * 100).toFixed(3)}%, worst ${(rmseChange.worst * 100).toFixed(3)}%)\n`);

  const best = result.history.find((h) => h.epoch === result.bestEpoch);
  const card = modelCard({
    name: r.name,
    version: r.version,
    fileName: `${r.name}.onnx`,
    bytes: bytes.length,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    params: result.layout.size,
    hidden: opts.hidden,
    layers: opts.layers,
    window: opts.window,
    normalization: JSON.stringify(r.normalization),
    trainSeries: train.series,
    trainLength: train.length,
    trainSeed: train.seed,
    heldOutSeries: heldOut.series,
    heldOutSeed: heldOut.seed,
    epochs: result.history.length,
    bestEpoch: result.bestEpoch,
    trainSeconds: result.durationMs / 1000,
    bestValMse: best?.valMse ?? NaN,
    loss: lossWords,
    residual: opts.residual === true,
    heldOut: summary,
    byFamily,
    latency,
    int8: {
      fileName: `${r.name}-int8.onnx`,
      bytes: int8Bytes.length,
      sha256: createHash('sha256').update(int8Bytes).digest('hex'),
      heldOut: summarize(int8Scores),
      rmseChangeMedian: rmseChange.median,
      rmseChangeWorst: rmseChange.worst,
      latency: int8Latency,
    },
    command: 'npm run build:models',
  });
  writeFileAtomic(join(outDir, 'README.md'), card);
  log.write(`held-out (${summary.series} series): median RMSE ratio vs persistence ${summary.medianRmseRatio.toFixed(3)}, mean MAE ratio ${summary.meanMaeRatio.toFixed(3)}, better on ${(summary.shareBetter * 100).toFixed(0)}%\n`);
  log.write(`card: ${relative(process.cwd(), join(outDir, 'README.md'))}\n`);
}

/** Median and largest (by magnitude) of ratio - 1 over series. */
function medianRelativeChange(ratios: number[]): { median: number; worst: number } {
  const d = ratios.filter((r) => Number.isFinite(r)).map((r) => r - 1);
  const sorted = [...d].sort((a, b) => a - b);
  const worst = d.reduce((w, v) => (Math.abs(v) > Math.abs(w) ? v : w), 0);
  return { median: sorted.length ? sorted[sorted.length >> 1]! : NaN, worst };
}

function pick(s: ReturnType<typeof summarize>): { series: number; medianRmseRatio: number; shareBetter: number } {
  return { series: s.series, medianRmseRatio: s.medianRmseRatio, shareBetter: s.shareBetter };
}

/** Median time of one step at a batch size, in microseconds per call and per device. */
async function timeStep(session: ort.InferenceSession, batch: number, hidden: number, layers: number): Promise<{ usPerCall: number; usPerDevice: number }> {
  const feeds = {
    x: new ort.Tensor('float32', new Float32Array(batch).fill(0.1), [1, batch, 1]),
    h0: new ort.Tensor('float32', new Float32Array(layers * batch * hidden), [layers, batch, hidden]),
    c0: new ort.Tensor('float32', new Float32Array(layers * batch * hidden), [layers, batch, hidden]),
  };
  const reps = batch >= 4096 ? 30 : batch >= 256 ? 200 : 2000;
  for (let i = 0; i < Math.min(50, reps); i++) await session.run(feeds);
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  times.sort((a, b) => a - b);
  const us = times[times.length >> 1]!;
  return { usPerCall: us, usPerDevice: us / batch };
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
