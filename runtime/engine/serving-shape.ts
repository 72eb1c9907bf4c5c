import { EdgeLstmError } from '../errors';
import type { Model } from '../model/load-model';

/**
 * What the engine serves: the model's own features, or, for a univariate
 * model given `features`, any number of features channel-independently (the
 * model runs once per feature, each with its own LSTM state, normalization
 * and scoring statistics; the scores are combined per device). A device's F
 * channels are F consecutive rows of the ONNX batch, so its [L, F, H] state
 * block and the batch's [L, B*F, H] rows line up exactly as one model with
 * hidden size F*H would: the store, the gather and the scatter need no
 * change.
 */
export interface ServingShape {
  /** Values per reading and targets per reading. */
  readonly F: number;
  readonly T: number;
  readonly L: number;
  /** Floats of one layer's state per device (H, or lanes * H channel-independently). */
  readonly H: number;
  /** ONNX batch rows per device: 1, or the number of features channel-independently. */
  readonly lanes: number;
  readonly features: readonly string[];
  readonly targets: readonly string[];
  readonly targetIndex: readonly number[];
}

export function servingShape(model: Model, features?: readonly string[]): ServingShape {
  const { F, T, H, L } = model.dims;
  const own = model.metadata.features;
  if (features === undefined || (features.length === own.length && features.every((f, i) => f === own[i]))) {
    return { F, T, L, H, lanes: 1, features: own, targets: model.metadata.targets, targetIndex: model.targetIndex };
  }
  if (F !== 1 || T !== 1) {
    throw new EdgeLstmError('E_CONFIG', `option features: model ${model.id} has ${F} features (${own.join(', ')}); only a univariate model serves other features (channel-independent)`, { field: 'features', expected: own.join(', '), found: features.join(', ') });
  }
  if (model.metadata.normalization.mode !== 'per-device') {
    throw new EdgeLstmError('E_CONFIG', `option features: channel-independent use needs a model with per-device normalization; ${model.id} normalizes globally`, { field: 'features', expected: 'a per-device normalization', found: 'global' });
  }
  if (features.length < 1 || new Set(features).size !== features.length || features.some((f) => typeof f !== 'string' || f.length === 0)) {
    throw new EdgeLstmError('E_CONFIG', 'option features must be distinct non-empty names', { field: 'features', found: JSON.stringify(features) });
  }
  const n = features.length;
  return { F: n, T: n, L, H: n * H, lanes: n, features: [...features], targets: [...features], targetIndex: features.map((_, i) => i) };
}
