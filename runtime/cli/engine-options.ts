import type { EngineOptions } from '../engine/options';
import type { OptionSpecs } from './args';

/** The engine's options as command-line options, shared by every command that runs the engine. */
export const engineOptionSpecs = {
  'max-batch': { type: 'number', integer: true, min: 1, max: 65536, description: 'most devices in one inference call', default: 4096 },
  'max-delay-ms': { type: 'number', min: 0, max: 60000, description: 'longest a reading waits for batch-mates', default: 2 },
  'max-devices': { type: 'number', integer: true, min: 1, description: 'devices kept; the least recently used is evicted', default: 100000 },
  'idle-ttl-ms': { type: 'number', min: 0, description: 'forget a device idle this long (0: never)', default: 0 },
  'max-gap-ms': { type: 'number', min: 0, description: 'reset a device whose timestamps jump by more than this (0: never)', default: 0 },
  warmup: { type: 'number', integer: true, min: 0, description: 'readings of a device before it may raise an alarm', default: 100 },
  threshold: { type: 'number', min: 0, max: 1, description: 'anomaly likelihood that raises an alarm', default: 0.9999 },
  horizon: { type: 'number', integer: true, min: 1, max: 1000, description: 'forecast steps in each result', default: 1 },
} satisfies OptionSpecs;

export function engineOptionsFrom(o: { [K in keyof typeof engineOptionSpecs]: number }): EngineOptions {
  return {
    maxBatch: o['max-batch'],
    maxDelayMs: o['max-delay-ms'],
    maxDevices: o['max-devices'],
    idleTtlMs: o['idle-ttl-ms'],
    maxGapMs: o['max-gap-ms'],
    warmup: o.warmup,
    threshold: o.threshold,
    horizon: o.horizon,
  };
}
