import { EdgeLstmError } from '../errors';
import { DEFAULT_LIKELIHOOD, type LikelihoodOptions } from './likelihood';

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
  /** Samples of a device before it may raise an alarm. Default 100. */
  warmup?: number;
  /** Likelihood at or above which a sample is an anomaly. Default 0.9999. */
  threshold?: number;
  /** Steps of forecast in each result (autoregressive, on a copy of the state). Default 1. */
  horizon?: number;
  /** Anomaly likelihood windows. */
  likelihood?: Partial<LikelihoodOptions>;
}

export type ResolvedEngineOptions = Required<Omit<EngineOptions, 'likelihood'>> & { likelihood: LikelihoodOptions };

export const ENGINE_DEFAULTS: Readonly<ResolvedEngineOptions> = Object.freeze({
  maxBatch: 4096,
  maxDelayMs: 2,
  maxDevices: 100_000,
  idleTtlMs: 0,
  maxGapMs: 0,
  warmup: 100,
  threshold: 0.9999,
  horizon: 1,
  likelihood: DEFAULT_LIKELIHOOD,
});

/** Normalizes options once; a bad value is an E_CONFIG error naming the option. */
export function resolveEngineOptions(o: EngineOptions = {}): ResolvedEngineOptions {
  const r: ResolvedEngineOptions = { ...ENGINE_DEFAULTS, ...stripUndefined(o), likelihood: { ...DEFAULT_LIKELIHOOD, ...stripUndefined(o.likelihood ?? {}) } };
  const int = (name: string, v: number, min: number, max = Number.MAX_SAFE_INTEGER): void => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      throw new EdgeLstmError('E_CONFIG', `option ${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`, { field: name, expected: `integer ${min}..${max}`, found: JSON.stringify(v) });
    }
  };
  const num = (name: string, v: number, min: number, max: number): void => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) {
      throw new EdgeLstmError('E_CONFIG', `option ${name} must be a number from ${min} to ${max}, got ${JSON.stringify(v)}`, { field: name, expected: `${min}..${max}`, found: JSON.stringify(v) });
    }
  };
  // A batch above 65536 devices holds the event loop for tens of ms; the engine gains nothing past a few thousand.
  int('maxBatch', r.maxBatch, 1, 65_536);
  num('maxDelayMs', r.maxDelayMs, 0, 60_000);
  int('maxDevices', r.maxDevices, 1, 10_000_000);
  num('idleTtlMs', r.idleTtlMs, 0, Number.MAX_SAFE_INTEGER);
  num('maxGapMs', r.maxGapMs, 0, Number.MAX_SAFE_INTEGER);
  int('warmup', r.warmup, 0);
  num('threshold', r.threshold, 0, 1);
  int('horizon', r.horizon, 1, 1000);
  int('likelihood.shortWindow', r.likelihood.shortWindow, 1, 1000);
  int('likelihood.longWindow', r.likelihood.longWindow, 2);
  num('likelihood.minStd', r.likelihood.minStd, 1e-9, 1e9);
  return r;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
