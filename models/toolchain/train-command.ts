import { existsSync, statSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { OptionSpecs, OptionValues } from '../../runtime/cli/args';
import { defineCommand } from '../../runtime/cli/command';
import { EdgeLstmError } from '../../runtime/errors';
import type { Normalization } from '../../runtime/model/metadata';
import { writeFileAtomic } from '../../runtime/util/atomic-write';
import { exportModel, trainingSummary } from './export-model';
import { lossChartHtml } from './loss-chart';
import { ProgressBar } from './progress-bar';
import { globalNormalization, prepareSeries, type RawSeries } from './series-data';
import { TRAIN_DEFAULTS, trainLstm, type TrainOptions } from './train';
import { readTrainingCsv } from './training-csv';

const D = TRAIN_DEFAULTS;

export const TRAIN_SPECS = {
  input: { type: 'list', required: true, placeholder: 'file.csv,...', description: 'training CSV files (timestamp, then feature columns by name); each file is one device' },
  features: { type: 'list', default: ['value'], placeholder: 'a,b', description: 'input feature columns, in model order' },
  targets: { type: 'list', placeholder: 'a', description: 'features to predict (default: all features)' },
  cell: { type: 'string', choices: ['lstm', 'gru'], default: 'lstm', description: 'recurrent cell: lstm, or gru (no cell state: less state per device)' },
  hidden: { type: 'number', integer: true, min: 1, max: 1024, default: D.hidden, description: 'hidden units per layer' },
  layers: { type: 'number', integer: true, min: 1, max: 8, default: D.layers, description: 'stacked LSTM layers' },
  window: { type: 'number', integer: true, min: 2, max: 100000, default: D.window, description: 'steps per training window (BPTT length)' },
  stride: { type: 'number', integer: true, min: 1, description: 'rows between window starts (default: window/2)' },
  epochs: { type: 'number', integer: true, min: 1, max: 100000, default: D.epochs, description: 'most epochs to train' },
  'batch-size': { type: 'number', integer: true, min: 1, max: 65536, default: D.batchSize, description: 'windows per mini-batch' },
  'learning-rate': { type: 'number', min: 1e-8, max: 1, default: D.learningRate, description: 'Adam learning rate' },
  'clip-norm': { type: 'number', min: 0, default: D.clipNorm, description: 'clip the gradient to this L2 norm (0: off)' },
  patience: { type: 'number', integer: true, min: 0, default: D.patience, description: 'stop after this many epochs without a better validation loss (0: never)' },
  'val-fraction': { type: 'number', min: 0, max: 0.9, default: D.valFraction, description: 'fraction at the end of each series held out for validation' },
  'windows-per-epoch': { type: 'number', integer: true, min: 0, default: D.windowsPerEpoch, description: 'windows drawn per epoch (0: all)' },
  seed: { type: 'number', integer: true, min: 0, max: 4294967295, default: D.seed, description: 'random seed (same seed, data and options: same model)' },
  logvar: { type: 'boolean', default: false, description: 'also predict the variance (y_logvar), trained with Gaussian NLL' },
  residual: { type: 'boolean', default: false, description: 'predict each target as its current value plus a learned change (the skip is part of the graph)' },
  'huber-delta': { type: 'number', min: 0, max: 1e6, default: 0, description: 'without --logvar: train with the Huber loss of this delta (normalized units; 0: squared error)' },
  normalization: { type: 'string', choices: ['per-device', 'global'], default: 'per-device', description: 'online statistics per device, or fixed ones from the training data' },
  'norm-window': { type: 'number', integer: true, min: 2, default: 1000, description: 'per-device normalization: samples in the running statistics' },
  'min-std': { type: 'number', min: 1e-12, default: 1e-3, description: 'per-device normalization: smallest standard deviation used (raw units)' },
  name: { type: 'string', description: 'model name (default: the output file name)' },
  version: { type: 'string', default: '1.0.0', description: 'model version (semantic)' },
  out: { type: 'string', required: true, placeholder: 'model.onnx', description: 'where to write the model; the loss curve goes beside it as <model>.loss.html' },
  chart: { type: 'boolean', default: true, description: 'write the loss curve chart' },
  quiet: { type: 'boolean', default: false, description: 'no progress output' },
} as const satisfies OptionSpecs;

export type TrainCommandOptions = OptionValues<typeof TRAIN_SPECS>;

const USAGE = 'edgelstm train --input CSV... [--features a,b] [--targets a] [--cell lstm|gru] [--hidden 32] [--layers 1] [--window 64] [--epochs N] [--seed S] --out model.onnx [--config file.json]';

function bad(field: string, expected: string, found: string): EdgeLstmError {
  return new EdgeLstmError('E_CONFIG', `option --${field}: expected ${expected}, found ${found}`, { field, expected, found });
}

/** Checks what parseArgs cannot: relations between options, and the files. Everything before training starts. */
export function validateTrainOptions(o: TrainCommandOptions): void {
  const features = o.features;
  if (new Set(features).size !== features.length) throw bad('features', 'distinct names', features.join(','));
  if (features.includes('timestamp')) throw bad('features', 'data columns (timestamp is the time column)', features.join(','));
  const targets = o.targets ?? features;
  const stray = targets.filter((t) => !features.includes(t));
  if (stray.length) throw bad('targets', `a subset of --features (${features.join(',')})`, targets.join(','));
  if (new Set(targets).size !== targets.length) throw bad('targets', 'distinct names', targets.join(','));
  if (!/^\d+\.\d+\.\d+([-+].*)?$/.test(o.version)) throw bad('version', 'a semantic version such as 1.0.0', o.version);
  for (const f of o.input) if (!existsSync(f)) throw bad('input', 'existing CSV files', JSON.stringify(f));
  const dir = dirname(resolve(o.out));
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw bad('out', 'a path in an existing folder', JSON.stringify(o.out));
  if (!/\.onnx$/i.test(o.out)) throw bad('out', 'a file name ending in .onnx', JSON.stringify(o.out));
}

export function trainOptionsFrom(o: TrainCommandOptions): TrainOptions {
  const t: TrainOptions = {
    cell: o.cell as 'lstm' | 'gru',
    hidden: o.hidden,
    layers: o.layers,
    window: o.window,
    batchSize: o['batch-size'],
    epochs: o.epochs,
    learningRate: o['learning-rate'],
    clipNorm: o['clip-norm'],
    patience: o.patience,
    valFraction: o['val-fraction'],
    seed: o.seed,
    logvar: o.logvar,
    huberDelta: o['huber-delta'],
    windowsPerEpoch: o['windows-per-epoch'],
    residual: o.residual,
  };
  if (o.stride !== undefined) t.stride = o.stride;
  return t;
}

export const main = defineCommand({ usage: USAGE, options: TRAIN_SPECS }, async (o) => {
  validateTrainOptions(o);
  await runTraining(o, process.stderr);
  return 0;
});

/** Reads, trains, writes the model (atomically) and the chart; returns the model path. */
export async function runTraining(o: TrainCommandOptions, log: NodeJS.WritableStream & { isTTY?: boolean; columns?: number }): Promise<string> {
  const features = o.features;
  const targets = o.targets ?? features;
  const opts = trainOptionsFrom(o);
  // A file must hold at least one window plus the row its last target comes from.
  const raw: RawSeries[] = o.input.map((f) => readTrainingCsv(f, features, opts.window + 1));
  const norm: Normalization = o.normalization === 'global' ? globalNormalization(raw, features.length) : { mode: 'per-device', window: o['norm-window'], minStd: o['min-std'] };
  const targetIndex = targets.map((t) => features.indexOf(t));
  const prepared = raw.map((r) => prepareSeries(r, norm, targetIndex));
  const bar = o.quiet ? undefined : new ProgressBar(log, opts.epochs);
  if (!o.quiet) log.write(`training on ${raw.length} file(s), ${prepared.reduce((s, p) => s + p.rows, 0)} rows; ${(opts.cell ?? 'lstm').toUpperCase()} H=${opts.hidden} L=${opts.layers} window=${opts.window}\n`);
  const result = trainLstm(prepared, features.length, targets.length, opts, bar);
  const name = o.name ?? basename(o.out).replace(/\.onnx$/i, '');
  const { out: _out, input, quiet: _q, chart: _ch, ...recorded } = o;
  const data = { files: input.map((f) => basename(f)), rows: raw.map((r) => r.columns[0]!.length) };
  const bytes = exportModel(result.weights, { name, version: o.version, features, targets, normalization: norm, training: trainingSummary(result, data, recorded) });
  writeFileAtomic(o.out, bytes);
  if (o.chart) writeFileAtomic(chartPath(o.out), lossChartHtml(`${name} ${o.version}`, result.history, result.bestEpoch, result.loss === 'mse' ? 'mean squared error (normalized units)' : 'Gaussian negative log-likelihood'));
  if (!o.quiet) log.write(`wrote ${o.out} (${bytes.length} bytes; best epoch ${result.bestEpoch} of ${result.history.length}, ${(result.durationMs / 1000).toFixed(1)} s)\n`);
  return o.out;
}

/** The loss chart's path: `model.onnx` -> `model.loss.html`. */
export function chartPath(modelPath: string): string {
  return modelPath.replace(/\.onnx$/i, '') + '.loss.html';
}
