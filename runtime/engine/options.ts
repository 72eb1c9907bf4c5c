import { EdgeLstmError } from '../errors';
import { LEARN_OPTION_RANGES, resolveLearnOptions, type LearnOptions, type LearnSetting } from '../learn/learn-options';
import { checkRange, type OptionRange } from '../util/option-range';
import type { LikelihoodOptions } from './likelihood';
import { SCORING_DEFAULTS, SENSITIVITIES, SENSITIVITY_THRESHOLDS, type ScoringOptions, type Sensitivity } from './scoring/scoring-options';

/** Engine options. Every one is optional; defaults are in ENGINE_DEFAULTS. */
export interface EngineOptions {
  /** Most devices in one ONNX Runtime call. Default 4096: about 1.5 ms at H=32, short enough not to stall the event loop. */
  maxBatch?: number;
  /** Longest a sample waits for batch-mates, in ms. Default 2. 0 flushes on the next tick. */
  maxDelayMs?: number;
  /** Upper bound on devices with state; the least recently used is evicted. Default 100000. */
  maxDevices?: number;
  /** Evict a device not heard from for this long (wall clock, ms). Default 0: never. */
  idleTtlMs?: number;
  /** Reset a device whose sample timestamps jump by more than this (ms). Default 0: never. */
  maxGapMs?: number;
  /** Learning period: readings of a device before it may raise an alarm (its normal is learned from them). Default 100. */
  warmup?: number;
  /** Learning period as a duration of the device's own time (ms from its first reading); both must pass. Default 0: count only. */
  warmupMs?: number;
  /** Alarm preset: 'low' (fewer alarms), 'normal', 'high' (more). Sets the threshold unless one is given. Default 'normal'. */
  sensitivity?: Sensitivity;
  /** Likelihood at or above which an anomalous episode opens. Default: the sensitivity's (normal: 1 - 1e-9). */
  threshold?: number;
  /** Steps of forecast in each result (autoregressive, on a copy of the state). Default 1. */
  horizon?: number;
  /**
   * Features of a reading, for a univariate model: the model then serves
   * each channel-independently (its own LSTM state, normalization and
   * scores per feature; serving-shape.ts). Default: the model's features.
   */
  features?: readonly string[] | undefined;
  /** The detector's parameters (scoring-options.ts); the defaults are the calibrated set. */
  scoring?: Partial<ScoringOptions>;
  /** Shorthand for scoring.shortWindow, longWindow and minStd (the likelihood's windows). */
  likelihood?: Partial<LikelihoodOptions>;
  /** Continual learning of the model on the devices' own readings (runtime/learn). Default false: off. */
  learn?: LearnSetting;
}

export type ResolvedEngineOptions = Required<Omit<EngineOptions, 'likelihood' | 'scoring' | 'features' | 'learn'>> & { scoring: ScoringOptions; features: readonly string[] | undefined; learn: LearnOptions | null };

export const ENGINE_DEFAULTS: Readonly<ResolvedEngineOptions> = Object.freeze({
  maxBatch: 4096,
  maxDelayMs: 2,
  maxDevices: 100_000,
  idleTtlMs: 0,
  maxGapMs: 0,
  warmup: 100,
  warmupMs: 0,
  sensitivity: 'normal',
  threshold: SENSITIVITY_THRESHOLDS.normal,
  horizon: 1,
  features: undefined,
  scoring: SCORING_DEFAULTS,
  learn: null,
});

type NumericEngineOption = 'maxBatch' | 'maxDelayMs' | 'maxDevices' | 'idleTtlMs' | 'maxGapMs' | 'warmup' | 'warmupMs' | 'threshold' | 'horizon';

/** The engine's own numeric options: defaults from ENGINE_DEFAULTS, and the ranges resolveEngineOptions enforces. */
const ENGINE_RANGES = {
  // Above 65536 devices one batch holds the event loop for tens of ms; nothing is gained past a few thousand.
  maxBatch: { default: ENGINE_DEFAULTS.maxBatch, min: 1, max: 65_536, integer: true },
  // Up to a minute: a slow, bursty fleet may trade latency for fuller batches; beyond, a reading is stale.
  maxDelayMs: { default: ENGINE_DEFAULTS.maxDelayMs, min: 0, max: 60_000, integer: false },
  maxDevices: { default: ENGINE_DEFAULTS.maxDevices, min: 1, max: 10_000_000, integer: true },
  idleTtlMs: { default: ENGINE_DEFAULTS.idleTtlMs, min: 0, integer: false },
  maxGapMs: { default: ENGINE_DEFAULTS.maxGapMs, min: 0, integer: false },
  warmup: { default: ENGINE_DEFAULTS.warmup, min: 0, integer: true },
  warmupMs: { default: ENGINE_DEFAULTS.warmupMs, min: 0, integer: false },
  /** The default is the default sensitivity's; an explicit threshold overrides the sensitivity. */
  threshold: { default: ENGINE_DEFAULTS.threshold, min: 0, max: 1, integer: false },
  horizon: { default: ENGINE_DEFAULTS.horizon, min: 1, max: 1000, integer: true },
} as const satisfies Record<NumericEngineOption, OptionRange>;

/**
 * The one table of the numeric options' defaults and ranges: the engine's
 * own and the `learn` ones (runtime/learn/learn-options.ts), checked here by
 * resolveEngineOptions. The command line (and its config file,
 * runtime/cli/engine-options.ts) and the Node-RED config node and editor
 * (nodes/shared/model-ranges.ts) take theirs from it, so the three accept
 * the same values (test/cli/engine-ranges.test.ts).
 */
export const ENGINE_OPTION_RANGES = {
  ...ENGINE_RANGES,
  learnEvery: LEARN_OPTION_RANGES.every,
  learnIntervalMs: LEARN_OPTION_RANGES.intervalMs,
  learnSteps: LEARN_OPTION_RANGES.steps,
  learnWindow: LEARN_OPTION_RANGES.window,
  learnWindows: LEARN_OPTION_RANGES.windows,
  learnDevices: LEARN_OPTION_RANGES.devices,
  learnRate: LEARN_OPTION_RANGES.learningRate,
  learnCpuShare: LEARN_OPTION_RANGES.cpuShare,
} as const satisfies Record<string, OptionRange>;

export type EngineRangeName = keyof typeof ENGINE_OPTION_RANGES;

/** Normalizes options once; a bad value is an E_CONFIG error naming the option. */
export function resolveEngineOptions(o: EngineOptions = {}): ResolvedEngineOptions {
  const { likelihood, scoring, learn, ...rest } = o;
  const given = stripUndefined(rest);
  const sensitivity = given.sensitivity ?? ENGINE_DEFAULTS.sensitivity;
  if (!SENSITIVITIES.includes(sensitivity)) {
    throw new EdgeLstmError('E_CONFIG', `option sensitivity must be one of ${SENSITIVITIES.join(', ')}, got ${JSON.stringify(sensitivity)}`, { field: 'sensitivity', expected: SENSITIVITIES.join(' | '), found: JSON.stringify(sensitivity) });
  }
  const r: ResolvedEngineOptions = {
    ...ENGINE_DEFAULTS,
    ...given,
    threshold: given.threshold ?? SENSITIVITY_THRESHOLDS[sensitivity],
    scoring: { ...SCORING_DEFAULTS, ...stripUndefined(likelihood ?? {}), ...stripUndefined(scoring ?? {}) },
    learn: resolveLearnOptions(learn),
  };
  for (const [name, range] of Object.entries(ENGINE_RANGES)) checkRange(name, r[name as NumericEngineOption], range);
  const int = (name: string, v: number, min: number, max?: number): void => checkRange(name, v, { default: min, min, ...(max !== undefined ? { max } : {}), integer: true });
  const num = (name: string, v: number, min: number, max: number): void => checkRange(name, v, { default: min, min, max, integer: false });
  const s = r.scoring;
  int('scoring.errorWindow', s.errorWindow, 1);
  num('scoring.zCap', s.zCap, 1e-9, 1e9);
  int('scoring.shortWindow', s.shortWindow, 1, 1000);
  int('scoring.longWindow', s.longWindow, 2);
  num('scoring.minStd', s.minStd, 1e-9, 1e9);
  num('scoring.noveltyMargin', s.noveltyMargin, -1, 1e9);
  num('scoring.noveltyNines', s.noveltyNines, 0, 1e9);
  num('scoring.noveltyGain', s.noveltyGain, 0, 1e9);
  num('scoring.stuckNines', s.stuckNines, 0, 1e9);
  num('scoring.naiveWeight', s.naiveWeight, 0, 1);
  int('scoring.noveltyAfter', s.noveltyAfter, 0);
  int('scoring.stuckReadings', s.stuckReadings, 0);
  num('scoring.release', s.release, 0, 1);
  num('scoring.holdLevel', s.holdLevel, 0, 1);
  num('scoring.levelK', s.levelK, 0, 1e9);
  int('scoring.levelWindow', s.levelWindow, 1);
  int('scoring.calmReadings', s.calmReadings, 1);
  num('scoring.calmZ', s.calmZ, 0, 1e9);
  num('scoring.calmWindow', s.calmWindow, 1, 1e6);
  num('scoring.seasonWeight', s.seasonWeight, 0, 1e9);
  int('scoring.tailLearn', s.tailLearn, 0);
  num('scoring.relationWeight', s.relationWeight, 0, 1e9);
  num('scoring.minCorrelation', s.minCorrelation, 0, 1);
  int('scoring.seasonDays', s.seasonDays, 1);
  int('scoring.seasonWindow', s.seasonWindow, 1);
  num('scoring.weekWeight', s.weekWeight, 0, 1e9);
  int('scoring.calibrationWindow', s.calibrationWindow, 0);
  num('scoring.varianceWeight', s.varianceWeight, 0, 1);
  int('scoring.weekProfileWeeks', s.weekProfileWeeks, 1, 7);
  int('scoring.refractory', s.refractory, s.calmZ > 0 ? 1 : 0); // with calmZ, 0 would reopen an episode at the next reading
  int('scoring.relearnAfter', s.relearnAfter, 0);
  num('scoring.relearnAfterMs', s.relearnAfterMs, 0, Number.MAX_SAFE_INTEGER);
  return r;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
