/**
 * The detectors `edgelstm eval nab --detector NAME` can run. `lstm` (the
 * default) and the two controls are the engine itself with a different
 * forecaster, so all three are scored by the product's one detector.
 */
import { EdgeLstmError } from '../errors';
import type { EngineOptions } from '../engine/options';
import type { Detector } from './detector';
import { StoredScoresDetector } from './stored-scores-detector';

export interface DetectorSettings {
  /** For `stored`: the folder of stored outputs. */
  scoresDir?: string | undefined;
  /** For `lstm`: the model file. Default: the shipped generic model. */
  modelPath?: string | undefined;
  /** Engine options (`--detector-options JSON`), as `run` takes them in a config file; for ablations. Default: the engine's defaults. */
  options?: EngineOptions | undefined;
}

export interface DetectorSpec {
  readonly description: string;
  create(settings: DetectorSettings): Detector | Promise<Detector>;
}

/** Checks engine options before anything is loaded: a bad one is E_CONFIG naming it. */
async function engineOptions(o: EngineOptions | undefined): Promise<EngineOptions> {
  const { resolveEngineOptions, ENGINE_DEFAULTS } = await import('../engine/options');
  const { SCORING_DEFAULTS } = await import('../engine/scoring/scoring-options');
  const unknown = (keys: object, known: object, prefix: string): void => {
    for (const k of Object.keys(keys)) {
      if (!(k in known)) throw new EdgeLstmError('E_CONFIG', `--detector-options: unknown option "${prefix}${k}"`, { field: 'detector-options', expected: Object.keys(known).join(', '), found: k });
    }
  };
  unknown(o ?? {}, { ...ENGINE_DEFAULTS, likelihood: 0 }, '');
  unknown(o?.scoring ?? {}, SCORING_DEFAULTS, 'scoring.');
  try {
    resolveEngineOptions(o ?? {});
  } catch (e) {
    throw new EdgeLstmError('E_CONFIG', `--detector-options: ${(e as Error).message}`, { field: 'detector-options' });
  }
  return o ?? {};
}

async function control(kind: 'persistence' | 'mean', name: string, s: DetectorSettings): Promise<Detector> {
  const options = await engineOptions(s.options);
  const { EngineDetector } = await import('./engine-detector');
  const { controlModel } = await import('./control-models');
  return new EngineDetector(name, controlModel(kind), options);
}

export const DETECTORS: Readonly<Record<string, DetectorSpec>> = Object.freeze({
  lstm: {
    description: "the product: edgelstm's engine with its default options and the LSTM model (--model FILE, default the shipped generic model), one device per file",
    create: async (s: DetectorSettings) => {
      const options = await engineOptions(s.options);
      // Loaded on demand: the other detectors must not pay for ONNX Runtime.
      const { EngineDetector } = await import('./engine-detector');
      const { loadModel } = await import('../model/load-model');
      const { defaultModelPath } = await import('../model/default-model');
      return new EngineDetector('edgelstm-lstm', await loadModel(s.modelPath ?? defaultModelPath()), options);
    },
  },
  persistence: {
    description: 'control: the same engine and scoring with the naive forecast (next = last)',
    create: (s: DetectorSettings) => control('persistence', 'engine-persistence', s),
  },
  zscore: {
    description: "control: the same engine and scoring with the device's running mean as the forecast (a per-device z-score)",
    create: (s: DetectorSettings) => control('mean', 'engine-zscore', s),
  },
  stored: {
    description: "replay stored NAB outputs (--scores DIR, NAB's results/<detector> layout)",
    create: (s: DetectorSettings) => {
      if (s.scoresDir === undefined) throw new EdgeLstmError('E_CONFIG', '--detector stored needs --scores DIR', { field: 'scores', expected: 'a folder of stored outputs' });
      return new StoredScoresDetector(s.scoresDir);
    },
  },
});
