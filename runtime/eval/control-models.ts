/**
 * The control forecasters, as models the engine runs like any other, so a
 * control is scored by exactly the product's detector (runtime/engine/
 * scoring) and differs from the LSTM only in its forecast:
 * - `persistence`: next = last (the model returns its normalized input);
 * - `mean`: next = the device's running mean (the model returns 0 in
 *   normalized units), which makes the error a per-device z-score.
 * Same per-device normalization as the shipped generic model.
 */
import type { LstmBackend } from '../backend/backend';
import type { Model } from '../model/load-model';
import type { ModelMetadata } from '../model/metadata';

export type ControlForecast = 'persistence' | 'mean';

export function controlModel(kind: ControlForecast, features: readonly string[] = ['value']): Model {
  const F = features.length;
  const backend: LstmBackend = {
    kind: 'reference',
    run: (x, h, c, seq, batch) => {
      const y = kind === 'persistence' ? x.slice((seq - 1) * batch * F, seq * batch * F) : new Float32Array(batch * F);
      return Promise.resolve({ y, hn: h.slice(), cn: c.slice() });
    },
    release: () => Promise.resolve(),
  };
  const metadata: ModelMetadata = {
    format: 1,
    name: `control-${kind}`,
    version: '1.0.0',
    features: [...features],
    targets: [...features],
    normalization: { mode: 'per-device', window: 256, minStd: 0.001 },
    io: { x: 'x', h0: 'h0', c0: 'c0', y: 'y', hn: 'hn', cn: 'cn' },
    quantization: { scheme: 'none' },
  };
  return {
    file: `<control ${kind}>`,
    metadata,
    id: `${metadata.name}@${metadata.version}`,
    fingerprint: `control-${kind}-${F}`,
    cell: 'lstm',
    layout: 'seq-first',
    dims: { F, H: 1, L: 1, T: F },
    targetIndex: features.map((_, i) => i),
    hasLogvar: false,
    backend,
    backendChoice: { requested: 'reference', kind: 'reference', reason: `the ${kind} control forecaster is computed in TypeScript` },
    release: () => Promise.resolve(),
  };
}
