import * as ort from 'onnxruntime-node';
import { featureMean, featureStd, normalizeInto, observe, statsWidth } from '../../runtime/model/normalizer';
import type { Normalization } from '../../runtime/model/metadata';

/** Forecast errors of one univariate series, in raw units, against naive persistence. */
export interface ForecastScore {
  readonly name: string;
  readonly steps: number;
  readonly rmse: number;
  readonly mae: number;
  readonly persistenceRmse: number;
  readonly persistenceMae: number;
}

/**
 * Streams a univariate series through an ONNX model exactly as the engine does
 * (observe, normalize, one LSTM step, denormalize with the same statistics),
 * and scores the one-step forecasts from step `skip` on. The whole series runs
 * as one sequence: the same outputs as stepping it (streaming equivalence),
 * because the inputs never depend on the forecasts.
 */
export async function scoreForecasts(session: ort.InferenceSession, norm: Normalization, hidden: number, layers: number, name: string, values: Float64Array, skip: number): Promise<ForecastScore> {
  const n = values.length;
  const x = new Float32Array(n);
  const mean = new Float64Array(n);
  const std = new Float64Array(n);
  const stats = new Float64Array(Math.max(1, statsWidth(norm, 1)));
  const one = new Float64Array(1);
  for (let t = 0; t < n; t++) {
    one[0] = values[t]!;
    observe(norm, stats, 0, one);
    normalizeInto(norm, stats, 0, one, x, t);
    mean[t] = featureMean(norm, stats, 0, 0);
    std[t] = featureStd(norm, stats, 0, 1, 0);
  }
  const zeros = new Float32Array(layers * hidden);
  const feeds: Record<string, ort.Tensor> = {
    x: new ort.Tensor('float32', x, [n, 1, 1]),
    h0: new ort.Tensor('float32', zeros, [layers, 1, hidden]),
  };
  // A GRU has no cell state.
  if (session.inputNames.includes('c0')) feeds['c0'] = new ort.Tensor('float32', zeros, [layers, 1, hidden]);
  const out = await session.run(feeds);
  const y = out['y']!.data as Float32Array;
  let se = 0;
  let ae = 0;
  let pse = 0;
  let pae = 0;
  let count = 0;
  for (let t = skip; t < n - 1; t++) {
    const forecast = mean[t]! + y[t]! * std[t]!;
    const e = values[t + 1]! - forecast;
    const p = values[t + 1]! - values[t]!;
    se += e * e;
    ae += Math.abs(e);
    pse += p * p;
    pae += Math.abs(p);
    count++;
  }
  return { name, steps: count, rmse: Math.sqrt(se / count), mae: ae / count, persistenceRmse: Math.sqrt(pse / count), persistenceMae: pae / count };
}

export interface ForecastSummary {
  readonly series: number;
  /** Median over series of RMSE(model) / RMSE(persistence): below 1 beats persistence. */
  readonly medianRmseRatio: number;
  /** Mean over series of MAE(model) / MAE(persistence) (a MASE with persistence as the scale). */
  readonly meanMaeRatio: number;
  /** Share of series where the model's RMSE is below persistence's. */
  readonly shareBetter: number;
}

/** Series where persistence is exact (a flat line) have no ratio and are left out of the ratios. */
export function summarize(all: readonly ForecastScore[]): ForecastSummary {
  const scores = all.filter((s) => s.persistenceRmse > 0 && s.persistenceMae > 0);
  if (scores.length === 0) return { series: all.length, medianRmseRatio: NaN, meanMaeRatio: NaN, shareBetter: NaN };
  const ratios = scores.map((s) => s.rmse / s.persistenceRmse).sort((a, b) => a - b);
  const mid = ratios.length >> 1;
  const median = ratios.length % 2 ? ratios[mid]! : (ratios[mid - 1]! + ratios[mid]!) / 2;
  return {
    series: all.length,
    medianRmseRatio: median,
    meanMaeRatio: scores.reduce((s, x) => s + x.mae / x.persistenceMae, 0) / scores.length,
    shareBetter: scores.filter((s) => s.rmse < s.persistenceRmse).length / scores.length,
  };
}
