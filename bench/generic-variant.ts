/**
 * Trains a variant of the generic model for the detector's fast loop:
 * `node dist/bench/generic-variant.js --out FILE.onnx ['{"options":{"huberDelta":0.1}}']`.
 * The JSON overrides the recipe (models/toolchain/generic-recipe.ts): `train`
 * (seed, series, length, stepsChance: the share of series replaced by the
 * `daily-steps` family) and `options` (TrainOptions). Synthetic data only,
 * never NAB. Score it with `bench:tune-detector -- --model FILE.onnx`
 * (runtime/eval/PROTOCOL.md rows 47-). One JSON line per epoch on stderr.
 */
import { writeFileSync } from 'node:fs';
import { exportModel, trainingSummary } from '../models/toolchain/export-model';
import { GENERIC_RECIPE } from '../models/toolchain/generic-recipe';
import { prepareSeries } from '../models/toolchain/series-data';
import { SIGNAL_FAMILIES, syntheticCorpus } from '../models/toolchain/signals';
import { trainLstm, type TrainOptions } from '../models/toolchain/train';

interface Overrides {
  train?: { seed?: number; series?: number; length?: number; stepsChance?: number };
  options?: Partial<TrainOptions>;
}

const args = process.argv.slice(2);
const at = args.indexOf('--out');
if (at < 0 || args[at + 1] === undefined) {
  process.stderr.write('usage: generic-variant --out FILE.onnx [JSON overrides of the generic recipe]\n');
  process.exit(2);
}
const out = args.splice(at, 2)[1]!;
const over = (args.length > 0 ? JSON.parse(args[0]!) : {}) as Overrides;
const r = GENERIC_RECIPE;
const train = { stepsChance: 0, ...r.train, ...over.train };
const opts: TrainOptions = { ...r.options, ...over.options };
const corpus = syntheticCorpus(train.seed, train.series, train.length, train.stepsChance);
const prepared = corpus.map((s) => prepareSeries({ name: s.name, columns: [s.values] }, r.normalization, [0]));
const result = trainLstm(prepared, 1, 1, opts, { onEpoch: (e) => process.stderr.write(`${JSON.stringify(e)}\n`) });
const data = { source: 'synthetic', generatorSeed: train.seed, series: train.series, length: train.length, families: SIGNAL_FAMILIES.filter((f) => corpus.some((c) => c.families.includes(f))) };
const bytes = exportModel(result.weights, {
  name: r.name,
  version: r.version,
  features: ['value'],
  targets: ['value'],
  normalization: r.normalization,
  training: trainingSummary(result, data, { ...opts }),
});
writeFileSync(out, bytes);
process.stderr.write(`wrote ${out} (${bytes.length} bytes, ${(result.durationMs / 1000).toFixed(0)} s, best epoch ${result.bestEpoch})\n`);
