import { EdgeLstmError } from '../../runtime/errors';
import { mulberry32, type LstmWeights } from '../../runtime/contract/weights';
import { Adam, clipGradNorm } from '../../runtime/learn/adam';
import { ParamLayout } from '../../runtime/learn/param-layout';
import type { PreparedSeries } from './series-data';
import { GruWindowGradient } from '../../runtime/learn/gru-window-gradient';
import { WindowGradient, type WindowNet } from '../../runtime/learn/window-gradient';
import type { CellKind } from '../../runtime/contract/cell';
import { shufflePairs, splitWindows, type WindowSplit } from './windows';

/** Training hyper-parameters. Defaults in TRAIN_DEFAULTS. */
export interface TrainOptions {
  /** The recurrent cell; default 'lstm'. A GRU keeps no cell state (less state per device). */
  cell?: CellKind;
  /** Hidden units per layer (H). */
  hidden: number;
  /** Stacked LSTM layers (L). */
  layers: number;
  /** Steps per training window (truncated BPTT length). */
  window: number;
  /** Rows between window starts; default window / 2. */
  stride?: number;
  /** Windows per mini-batch. */
  batchSize: number;
  /** Upper bound on epochs; early stopping may end sooner. */
  epochs: number;
  learningRate: number;
  /** Global L2 norm the gradient is clipped to. */
  clipNorm: number;
  /** Epochs without a better validation loss before stopping (0: never stop early). */
  patience: number;
  /** Fraction of each series, at its end, held out for validation. */
  valFraction: number;
  seed: number;
  /** Train a log-variance head with the Gaussian negative log-likelihood. */
  logvar: boolean;
  /** Without `logvar`: > 0 trains with the Huber loss of this delta (normalized units) instead of squared error. Default 0. */
  huberDelta?: number;
  /** Windows drawn per epoch (0: all). Keeps epochs short on large data. */
  windowsPerEpoch: number;
  /**
   * A residual head: the prediction is the current normalized input of each target plus the head's
   * output (the head learns the change), added inside the exported graph. Default false.
   */
  residual?: boolean;
}

export const TRAIN_DEFAULTS: Readonly<TrainOptions> = Object.freeze({
  hidden: 32,
  layers: 1,
  window: 64,
  batchSize: 32,
  epochs: 30,
  learningRate: 3e-3,
  clipNorm: 1,
  patience: 5,
  valFraction: 0.2,
  seed: 1,
  logvar: false,
  windowsPerEpoch: 0,
});

export interface EpochReport {
  readonly epoch: number;
  readonly epochs: number;
  /** Mean loss per predicted value: squared error, or Gaussian NLL with a variance head. */
  readonly trainLoss: number;
  readonly valLoss: number | null;
  /** Validation mean squared error (normalized units), whatever the loss. */
  readonly valMse: number | null;
  readonly seconds: number;
  readonly best: boolean;
}

export interface TrainListener {
  /** After every mini-batch, with the running mean loss of the epoch. */
  onBatch?(epoch: number, batch: number, batches: number, loss: number): void;
  onEpoch?(report: EpochReport): void;
}

export interface TrainResult {
  readonly layout: ParamLayout;
  /** The parameters of the best epoch (lowest validation loss). */
  readonly params: Float64Array;
  readonly weights: LstmWeights;
  readonly history: readonly EpochReport[];
  readonly bestEpoch: number;
  readonly stoppedEarly: boolean;
  readonly durationMs: number;
  readonly split: WindowSplit;
  readonly loss: 'mse' | 'huber' | 'gaussian-nll';
}

/**
 * Trains an LSTM (or GRU) next-step forecaster on prepared series: mini-batches of
 * windows, BPTT, gradient clipping, Adam, early stopping on the validation
 * loss (the best epoch's weights are kept). Deterministic for a given seed:
 * initialization and shuffling draw from one seeded generator and the
 * arithmetic order never depends on timing.
 */
export function trainLstm(series: readonly PreparedSeries[], features: number, targets: number, opts: TrainOptions, listener: TrainListener = {}): TrainResult {
  const started = Date.now();
  const stride = opts.stride ?? Math.max(1, Math.floor(opts.window / 2));
  const split = splitWindows(series, opts.window, stride, opts.valFraction);
  if (split.train.length === 0) {
    throw new EdgeLstmError('E_CSV', `too few rows for one training window of ${opts.window} steps`, { field: 'window', expected: `a series with more than ${opts.window} rows`, found: series.map((s) => `${s.name}: ${s.rows + 1} rows`).join(', ') });
  }
  const cell = opts.cell ?? 'lstm';
  const residual = opts.residual === true ? residualIndex(series, features, targets) : undefined;
  const layout = new ParamLayout({ inputSize: features, hiddenSize: opts.hidden, layers: opts.layers, outputs: targets, logvar: opts.logvar, cell, huberDelta: opts.logvar ? 0 : (opts.huberDelta ?? 0), ...(residual ? { residual } : {}) });
  const params = layout.init(opts.seed);
  const best = Float64Array.from(params);
  const grad = new Float64Array(layout.size);
  const net: WindowNet = cell === 'gru' ? new GruWindowGradient(layout, opts.window) : new WindowGradient(layout, opts.window);
  const adam = new Adam(layout.size);
  const rand = mulberry32(opts.seed ^ 0x9e3779b9);
  const order = Int32Array.from(split.train);
  const nTrain = order.length / 2;
  const perEpoch = opts.windowsPerEpoch > 0 ? Math.min(opts.windowsPerEpoch, nTrain) : nTrain;
  const batches = Math.ceil(perEpoch / opts.batchSize);
  const perWindow = opts.window * targets;
  const history: EpochReport[] = [];
  let bestLoss = Infinity;
  let bestEpoch = 0;
  let stale = 0;
  let stoppedEarly = false;

  for (let epoch = 1; epoch <= opts.epochs; epoch++) {
    const t0 = Date.now();
    shufflePairs(order, rand);
    let sum = 0;
    let count = 0;
    for (let b = 0; b < batches; b++) {
      const from = b * opts.batchSize;
      const to = Math.min(perEpoch, from + opts.batchSize);
      grad.fill(0);
      let batchLoss = 0;
      for (let w = from; w < to; w++) {
        const s = series[order[2 * w]!]!;
        const a = order[2 * w + 1]!;
        batchLoss += net.lossAndGrad(params, grad, s.x, a * features, s.y, a * targets, opts.window);
      }
      const n = (to - from) * perWindow;
      for (let i = 0; i < grad.length; i++) grad[i] /= n;
      clipGradNorm(grad, opts.clipNorm);
      adam.step(params, grad, opts.learningRate);
      sum += batchLoss;
      count += n;
      listener.onBatch?.(epoch, b + 1, batches, sum / count);
    }
    const trainLoss = sum / count;
    const val = split.val.length > 0 ? evaluate(net, params, series, split.val, features, targets, opts.window) : null;
    const watched = val ? val.loss : trainLoss;
    const improved = Number.isFinite(watched) && watched < bestLoss;
    if (improved) {
      bestLoss = watched;
      bestEpoch = epoch;
      best.set(params);
      stale = 0;
    } else stale++;
    const report: EpochReport = { epoch, epochs: opts.epochs, trainLoss, valLoss: val?.loss ?? null, valMse: val?.mse ?? null, seconds: (Date.now() - t0) / 1000, best: improved };
    history.push(report);
    listener.onEpoch?.(report);
    if (!Number.isFinite(trainLoss)) throw new EdgeLstmError('E_CONFIG', `training diverged at epoch ${epoch} (loss ${trainLoss}); lower the learning rate`, { field: 'learning-rate', found: String(opts.learningRate) });
    if (opts.patience > 0 && stale >= opts.patience) {
      stoppedEarly = epoch < opts.epochs;
      break;
    }
  }
  return {
    layout,
    params: best,
    weights: layout.toWeights(best),
    history,
    bestEpoch,
    stoppedEarly,
    durationMs: Date.now() - started,
    split,
    loss: opts.logvar ? 'gaussian-nll' : (opts.huberDelta ?? 0) > 0 ? 'huber' : 'mse',
  };
}

/** The input feature each target is, for a residual head: the same in every series. */
function residualIndex(series: readonly PreparedSeries[], features: number, targets: number): number[] {
  const index = [...(series[0]?.targetIndex ?? Array.from({ length: targets }, (_, j) => j))];
  const bad = index.length !== targets || index.some((f) => !Number.isInteger(f) || f < 0 || f >= features) || series.some((s) => s.targetIndex !== undefined && String(s.targetIndex) !== String(index));
  if (bad) throw new EdgeLstmError('E_CONFIG', 'a residual head needs every target to be one of the input features, the same in every series', { field: 'residual', expected: `${targets} feature indices below ${features}`, found: series.map((s) => `${s.name}: ${String(s.targetIndex ?? 'none')}`).join(', ') });
  return index;
}

/** Mean loss and mean squared error per predicted value over a set of windows. */
export function evaluate(net: WindowNet, params: Float64Array, series: readonly PreparedSeries[], windows: Int32Array, features: number, targets: number, window: number): { loss: number; mse: number } {
  let loss = 0;
  let se = 0;
  for (let w = 0; w < windows.length / 2; w++) {
    const s = series[windows[2 * w]!]!;
    const a = windows[2 * w + 1]!;
    loss += net.forward(params, s.x, a * features, s.y, a * targets, window);
    se += net.squaredError(s.y, a * targets, window);
  }
  const n = (windows.length / 2) * window * targets;
  return { loss: loss / n, mse: se / n };
}
