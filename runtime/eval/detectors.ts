/**
 * The detectors `edgelstm eval nab --detector NAME` can run. Add the LSTM
 * engine here: one entry, whose `create` returns a Detector (its `step` may
 * return a Promise, so an engine behind a batcher fits as is).
 */
import { EdgeLstmError } from '../errors';
import type { Detector } from './detector';
import { PersistenceDetector } from './persistence-detector';
import { StoredScoresDetector } from './stored-scores-detector';
import { CALIBRATION_DEFAULTS, resolveCalibration } from './error-calibration';
import { ZSCORE_DEFAULTS, ZScoreDetector } from './zscore-detector';

export interface DetectorSettings {
  /** For `stored`: the folder of stored outputs. */
  scoresDir?: string | undefined;
  /** For `lstm`: the model file. Default: the shipped generic model. */
  modelPath?: string | undefined;
  /**
   * Overrides of the detector's defaults (`--detector-options JSON`): for
   * `lstm` the CalibrationOptions, for `zscore` the ZScoreOptions. Meant for
   * ablations; the published score uses the defaults.
   */
  options?: Record<string, unknown> | undefined;
}

export interface DetectorSpec {
  readonly description: string;
  create(settings: DetectorSettings): Detector | Promise<Detector>;
}

/** Checks option names against the defaults and turns a RangeError from the constructor into E_CONFIG. */
function withOptions<T>(defaults: object, options: Record<string, unknown> | undefined, make: (o: Record<string, unknown>) => T): T {
  const o = options ?? {};
  for (const k of Object.keys(o)) {
    if (!(k in defaults)) throw new EdgeLstmError('E_CONFIG', `--detector-options: unknown option "${k}"`, { field: 'detector-options', expected: Object.keys(defaults).join(', '), found: k });
  }
  try {
    return make(o);
  } catch (e) {
    if (e instanceof RangeError || e instanceof TypeError) throw new EdgeLstmError('E_CONFIG', `--detector-options: ${e.message}`, { field: 'detector-options' });
    throw e;
  }
}

export const DETECTORS: Readonly<Record<string, DetectorSpec>> = Object.freeze({
  zscore: {
    description: 'baseline: smoothed forecast, error z-score, Numenta-style anomaly likelihood, 150-row rest after an alarm',
    create: (s: DetectorSettings) => withOptions(ZSCORE_DEFAULTS, s.options, (o) => new ZScoreDetector(o)),
  },
  lstm: {
    description: "edgelstm's engine and LSTM model, one device per file (--model FILE, default the shipped generic model); forecast errors scaled, Numenta likelihood, range novelty, 150-row rest after an alarm",
    create: async (s: DetectorSettings) => {
      // Checked first: a bad option must not cost a model load.
      const calibration = withOptions(CALIBRATION_DEFAULTS, s.options, (o) => resolveCalibration(o));
      // Loaded on demand: the other detectors must not pay for ONNX Runtime.
      const { LstmDetector } = await import('./lstm-detector');
      const { defaultModelPath } = await import('../model/default-model');
      return LstmDetector.create({ modelPath: s.modelPath ?? defaultModelPath(), calibration });
    },
  },
  persistence: {
    description: "control for lstm: the same error calibration on the naive forecast (next = last), so the LSTM's share of the score can be read off",
    create: (s: DetectorSettings) => withOptions(CALIBRATION_DEFAULTS, s.options, (o) => new PersistenceDetector(o)),
  },
  stored: {
    description: "replay stored NAB outputs (--scores DIR, NAB's results/<detector> layout)",
    create: (s: DetectorSettings) => {
      if (s.scoresDir === undefined) throw new EdgeLstmError('E_CONFIG', '--detector stored needs --scores DIR', { field: 'scores', expected: 'a folder of stored outputs' });
      return new StoredScoresDetector(s.scoresDir);
    },
  },
});
