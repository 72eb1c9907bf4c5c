import t from 'tap';
import * as evalApi from '../../runtime/eval';

t.test('the eval barrel exposes the scorer, harness, detectors and report', async (t) => {
  for (const name of ['scoreAtThreshold', 'optimizeThreshold', 'poolRows', 'normalizeScore', 'fileSweep', 'runCorpus', 'runFile', 'evaluateNab', 'EngineDetector', 'controlModel', 'nabHalf', 'evaluateFlags', 'StoredScoresDetector', 'StreamingForecastAccuracy', 'renderReport', 'resolveNabPaths', 'readWindowLabels', 'readSeriesCsv'] as const) {
    t.equal(typeof evalApi[name], 'function', name);
  }
  t.equal(evalApi.NAB_PROFILES.length, 3);
  t.same(Object.keys(evalApi.DETECTORS), ['lstm', 'persistence', 'zscore', 'stored']);
});
