import { ENGINE_DEFAULTS, ENGINE_OPTION_RANGES, type EngineOptions, type EngineRangeName } from '../engine/options';
import { SENSITIVITIES, type Sensitivity } from '../engine/scoring/scoring-options';
import type { OptionRange } from '../util/option-range';
import { LEARN_DEFAULTS } from '../learn/learn-options';
import type { OptionSpecs } from './args';

type RangedSpec = { type: 'number'; description: string; min: number; max?: number; above?: boolean; integer: boolean };

/** A numeric engine option's range from ENGINE_OPTION_RANGES, without its default (the engine decides). */
function bounded(name: EngineRangeName, description: string): RangedSpec {
  const r: OptionRange = ENGINE_OPTION_RANGES[name];
  return { type: 'number', description, min: r.min, ...(r.max !== undefined ? { max: r.max } : {}), ...(r.above === true ? { above: true } : {}), integer: r.integer };
}

/** A numeric engine option as a command-line option: default and range from ENGINE_OPTION_RANGES. */
function ranged(name: EngineRangeName, description: string): RangedSpec & { default: number } {
  return { ...bounded(name, description), default: ENGINE_OPTION_RANGES[name].default };
}

/** The engine's options as command-line options, shared by every command that runs the engine. */
export const engineOptionSpecs = {
  'max-batch': ranged('maxBatch', 'most devices in one inference call'),
  'max-delay-ms': ranged('maxDelayMs', 'longest a reading waits for batch-mates'),
  'max-devices': ranged('maxDevices', 'devices kept; the least recently used is evicted'),
  'idle-ttl-ms': ranged('idleTtlMs', 'forget a device idle this long (0: never)'),
  'max-gap-ms': ranged('maxGapMs', 'reset a device whose timestamps jump by more than this (0: never)'),
  warmup: ranged('warmup', 'learning period: readings of a device before it may raise an alarm'),
  'warmup-ms': ranged('warmupMs', "learning period as a duration of the device's own time (0: count only)"),
  sensitivity: { type: 'string', choices: SENSITIVITIES, description: 'alarm preset (sets the threshold unless --threshold is given)', default: ENGINE_DEFAULTS.sensitivity },
  threshold: bounded('threshold', "anomaly likelihood that opens an episode (default: the sensitivity's)"),
  features: { type: 'list', placeholder: 'names', description: 'features of a reading, for a univariate model: each is served channel-independently (default: the model\'s)' },
  horizon: ranged('horizon', 'forecast steps in each result'),
  learn: { type: 'boolean', default: ENGINE_DEFAULTS.learn !== null, description: "fine-tune the model on the devices' own readings in a worker thread, swapped in between batches" },
  'learn-every': ranged('learnEvery', 'with --learn: readings between fine-tunes'),
  'learn-interval-ms': ranged('learnIntervalMs', 'with --learn: also fine-tune this often (0: by count only)'),
  'learn-steps': ranged('learnSteps', 'with --learn: Adam steps per fine-tune (its CPU budget)'),
  'learn-window': ranged('learnWindow', 'with --learn: steps per training window'),
  'learn-windows': ranged('learnWindows', 'with --learn: recent windows kept (bounds memory)'),
  'learn-devices': ranged('learnDevices', 'with --learn: devices windows are cut from (the first seen)'),
  'learn-rate': ranged('learnRate', 'with --learn: Adam learning rate'),
  'learn-cpu-share': ranged('learnCpuShare', 'with --learn: share of one core the worker may use'),
  'learn-deterministic': { type: 'boolean', default: LEARN_DEFAULTS.deterministic, description: 'with --learn: swap each fine-tune in at exactly its reading (the stream waits): same input, same results' },
} satisfies OptionSpecs;

type EngineArgs = { [K in Exclude<keyof typeof engineOptionSpecs, 'sensitivity' | 'threshold' | 'features' | 'learn' | 'learn-deterministic'>]: number } & {
  sensitivity: string;
  threshold: number | undefined;
  features: string[] | undefined;
  learn: boolean;
  'learn-deterministic': boolean;
};

export function engineOptionsFrom(o: EngineArgs): EngineOptions {
  return {
    maxBatch: o['max-batch'],
    maxDelayMs: o['max-delay-ms'],
    maxDevices: o['max-devices'],
    idleTtlMs: o['idle-ttl-ms'],
    maxGapMs: o['max-gap-ms'],
    warmup: o.warmup,
    warmupMs: o['warmup-ms'],
    sensitivity: o.sensitivity as Sensitivity,
    ...(o.threshold !== undefined ? { threshold: o.threshold } : {}),
    ...(o.features !== undefined ? { features: o.features } : {}),
    horizon: o.horizon,
    learn: o.learn
      ? {
          every: o['learn-every'],
          intervalMs: o['learn-interval-ms'],
          steps: o['learn-steps'],
          window: o['learn-window'],
          windows: o['learn-windows'],
          devices: o['learn-devices'],
          learningRate: o['learn-rate'],
          cpuShare: o['learn-cpu-share'],
          deterministic: o['learn-deterministic'],
        }
      : false,
  };
}
