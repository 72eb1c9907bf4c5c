/**
 * The evaluation layer's public API: the NAB scorer (pure), the detector
 * contract and harness, forecast accuracy and the report. The CLI entry is
 * eval-command.ts, loaded lazily by the dispatcher.
 */
export type { Detector, DetectorOutput, FileContext } from './detector';
export { DETECTORS, type DetectorSpec, type DetectorSettings } from './detectors';
export { StoredScoresDetector } from './stored-scores-detector';
export { EngineDetector } from './engine-detector';
export { controlModel, type ControlForecast } from './control-models';
export { nabHalf, type NabHalf } from './nab-halves';
export { runCorpus, runFile, type FileRun, type DetectorSource, type RunOptions } from './harness';
export { evaluateNab, evaluateFlags, type ProfileOutcome, type FileOutcome } from './nab-evaluation';
export { normalizeScore, optimizeThreshold, poolRows, scoreAtThreshold, checkScores, type CorpusScore, type PooledRows, type ScoredFile } from './nab-scorer';
export { fileSweep, probationaryPeriod, scaledSigmoid, type FileSweep, type RowWindow } from './sweep-values';
export { NAB_PROFILES, PROFILE_NAMES, type CostProfile, type ProfileName } from './profiles';
export { StreamingForecastAccuracy, groupForecastAccuracy, type FileForecastAccuracy, type GroupForecastAccuracy, type MethodAccuracy, type ForecastMethod } from './forecast-metrics';
export { listNabFiles, loadNabFile, readProfiles, resolveNabPaths, selectFiles, type NabFile, type NabPaths } from './nab-corpus';
export { readWindowLabels, resolveWindows, type WindowLabels } from './labels';
export { readSeriesCsv, parseSeriesCsv, type Series } from './series-csv';
export { renderReport, type ReportInput } from './report';
