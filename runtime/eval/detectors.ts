/**
 * The detectors `edgelstm eval nab --detector NAME` can run. Add the LSTM
 * engine here: one entry, whose `create` returns a Detector (its `step` may
 * return a Promise, so an engine behind a batcher fits as is).
 */
import { EdgeLstmError } from '../errors';
import type { Detector } from './detector';
import { StoredScoresDetector } from './stored-scores-detector';
import { ZScoreDetector } from './zscore-detector';

export interface DetectorSettings {
  /** For `stored`: the folder of stored outputs. */
  scoresDir?: string | undefined;
  /** For `lstm`: the model file. Default: the shipped generic model. */
  modelPath?: string | undefined;
}

export interface DetectorSpec {
  readonly description: string;
  create(settings: DetectorSettings): Detector | Promise<Detector>;
}

export const DETECTORS: Readonly<Record<string, DetectorSpec>> = Object.freeze({
  zscore: {
    description: 'baseline: smoothed forecast, error z-score, Numenta-style anomaly likelihood, 150-row rest after an alarm',
    create: () => new ZScoreDetector(),
  },
  lstm: {
    description: "edgelstm's engine and LSTM model, one device per file (--model FILE, default the shipped generic model)",
    create: async (s: DetectorSettings) => {
      // Loaded on demand: the other detectors must not pay for ONNX Runtime.
      const { LstmDetector } = await import('./lstm-detector');
      const { defaultModelPath } = await import('../model/default-model');
      return LstmDetector.create({ modelPath: s.modelPath ?? defaultModelPath() });
    },
  },
  stored: {
    description: "replay stored NAB outputs (--scores DIR, NAB's results/<detector> layout)",
    create: (s: DetectorSettings) => {
      if (s.scoresDir === undefined) throw new EdgeLstmError('E_CONFIG', '--detector stored needs --scores DIR', { field: 'scores', expected: 'a folder of stored outputs' });
      return new StoredScoresDetector(s.scoresDir);
    },
  },
});
