import type { ForecastSummary } from './forecast-check';

export interface CardFacts {
  name: string;
  version: string;
  fileName: string;
  bytes: number;
  sha256: string;
  params: number;
  hidden: number;
  layers: number;
  window: number;
  normalization: string;
  trainSeries: number;
  trainLength: number;
  trainSeed: number;
  heldOutSeries: number;
  heldOutSeed: number;
  epochs: number;
  bestEpoch: number;
  trainSeconds: number;
  bestValMse: number;
  /** The training loss in words, e.g. "squared error". */
  loss: string;
  /** A residual head: the forecast is the current normalized reading plus the head's output. Default false. */
  residual?: boolean;
  heldOut: ForecastSummary;
  byFamily: { family: string; series: number; medianRmseRatio: number; shareBetter: number }[];
  latency: { batch: number; usPerCall: number; usPerDevice: number }[];
  /** The int8 variant, scored on the same held-out series. */
  int8?: {
    fileName: string;
    bytes: number;
    sha256: string;
    heldOut: ForecastSummary;
    /** Median and worst over series of RMSE(int8) / RMSE(fp32) - 1. */
    rmseChangeMedian: number;
    rmseChangeWorst: number;
    latency: { batch: number; usPerCall: number; usPerDevice: number }[];
  };
  command: string;
}

const f3 = (v: number): string => v.toFixed(3);

/** The model card (README.md beside the model), from measured facts only. */
export function modelCard(c: CardFacts): string {
  return `# ${c.name} ${c.version}

A univariate next-step forecaster meant to work out of the box on any single
sensor stream: it predicts the next reading from the ones so far, and the
engine scores each reading against that forecast. This card is written by
\`${c.command}\`, which rebuilds the model from scratch.

| | |
|---|---|
| file | \`${c.fileName}\` (fp32), ${c.bytes} bytes |
| SHA-256 | \`${c.sha256}\` |
| features / targets | \`value\` / \`value\` |
| architecture | LSTM, ${c.layers} layer, H=${c.hidden}, ${c.residual ? 'residual linear head (y = the current normalized reading + W h + b: a `Gather` of x and an `Add` in the graph)' : 'linear head'}; ${c.params} parameters; ONNX opset 17, standard \`LSTM\` op |
| normalization | \`${c.normalization}\` (the engine's online statistics per device) |
| quantization | none (the int8 variant${c.int8 ? `, \`${c.int8.fileName}\`,` : ''} is made from this file by \`edgelstm quantize\`) |

## Training data

Only synthetic series from \`models/toolchain/signals.ts\` (seed ${c.trainSeed}):
${c.trainSeries} series of ${c.trainLength} samples, each a random mix of daily
and weekly seasonality at 24 to 288 samples per day (with harmonics, phases,
sub-daily periods), trends, random walks and AR(1) drift, level shifts,
regime changes (amplitude, period, noise), on/off square waves, sawtooth
cycles, Gaussian, Student-t, Laplace and uniform noise, bursts of noise,
spikes, quantized sensors, and scales over four orders of magnitude. Nothing
from NAB (the evaluation set) or any other outside data.

Training: windows of ${c.window} steps, ${c.loss}, Adam, gradient clipping at norm 1,
the last 20% of every series for validation with early stopping: ${c.epochs}
epochs, best at epoch ${c.bestEpoch} (validation MSE ${c.bestValMse.toPrecision(4)} in normalized
units), ${c.trainSeconds.toFixed(0)} s on one core. The loss curve is
\`${c.fileName.replace(/\.onnx$/, '.loss.html')}\`.

## Held-out metrics

${c.heldOut.series} further synthetic series (seed ${c.heldOutSeed}, never seen in
training), streamed through the model exactly as the engine does (state
carried from the first sample on), one-step forecasts scored in raw units
after the first 256 samples, against naive persistence (next = last):

| metric | value |
|---|---|
| median RMSE(model) / RMSE(persistence) | ${f3(c.heldOut.medianRmseRatio)} |
| mean MAE(model) / MAE(persistence) | ${f3(c.heldOut.meanMaeRatio)} |
| series where the model beats persistence (RMSE) | ${(c.heldOut.shareBetter * 100).toFixed(0)}% |

Below 1 beats persistence. By the family a series contains (a series mixes several):

| family | series | median RMSE ratio | beats persistence |
|---|---|---|---|
${c.byFamily.map((r) => `| ${r.family} | ${r.series} | ${f3(r.medianRmseRatio)} | ${(r.shareBetter * 100).toFixed(0)}% |`).join('\n')}

Persistence is the baseline to beat for a one-step forecast: on a random
walk or white noise around a level it is already close to the best possible
forecast, so ratios near 1 there are expected; structure (seasonality, mean
reversion, periodic cycles) is where a ratio well below 1 comes from. NAB is
the evaluation set for anomaly detection: see \`edgelstm eval\`.

## Latency

onnxruntime-node, one thread, one step (seq 1), on the build machine:

| batch | us per call | us per device |
|---|---|---|
${c.latency.map((l) => `| ${l.batch} | ${l.usPerCall.toFixed(1)} | ${l.usPerDevice.toFixed(2)} |`).join('\n')}
${c.int8 ? int8Section(c, c.int8) : ''}`;
}

function int8Section(c: CardFacts, q: NonNullable<CardFacts['int8']>): string {
  const pct = (v: number): string => `${v >= 0 ? '+' : ''}${(v * 100).toFixed(3)}%`;
  return `
## int8 variant

\`${q.fileName}\`: \`edgelstm quantize ${c.fileName} ${q.fileName}\` (int8 weights with one
scale per output channel, dequantized in the graph; float32 activations, so a
device's output never depends on its batch-mates). ${q.bytes} bytes,
${(c.bytes / q.bytes).toFixed(2)}x smaller than the fp32 file (both files carry the same
metadata, about 1.5 KB, which weighs more in the smaller file). SHA-256 \`${q.sha256}\`.

| on the held-out series | fp32 | int8 |
|---|---|---|
| median RMSE ratio vs persistence | ${f3(c.heldOut.medianRmseRatio)} | ${f3(q.heldOut.medianRmseRatio)} |
| mean MAE ratio vs persistence | ${f3(c.heldOut.meanMaeRatio)} | ${f3(q.heldOut.meanMaeRatio)} |
| RMSE change vs fp32, median / worst series | | ${pct(q.rmseChangeMedian)} / ${pct(q.rmseChangeWorst)} |

| batch | fp32 us per device | int8 us per device |
|---|---|---|
${q.latency.map((l, i) => `| ${l.batch} | ${c.latency[i]?.usPerDevice.toFixed(2) ?? ''} | ${l.usPerDevice.toFixed(2)} |`).join('\n')}
`;
}
