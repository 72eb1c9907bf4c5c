import { ENGINE_OPTION_RANGES, type OptionRange } from '../../runtime';

/** A numeric setting of the config node: default and range, in the unit the editor shows. */
export interface NodeRange {
  default: number;
  min: number;
  max: number;
  integer: boolean;
}

function bounded(r: OptionRange): NodeRange {
  return { default: r.default, min: r.min, max: r.max ?? Number.MAX_SAFE_INTEGER, integer: r.integer };
}

/** The editor shows this one in seconds; the engine takes milliseconds. */
function inSeconds(r: OptionRange): NodeRange {
  return { default: r.default / 1000, min: r.min / 1000, max: (r.max ?? Number.MAX_SAFE_INTEGER) / 1000, integer: false };
}

/**
 * The edgelstm-model config node's numeric settings. The engine's come from
 * ENGINE_OPTION_RANGES (the command line takes the same); the runtime checks
 * a flow's values against them (numberSetting) and the editor validates with
 * them too: they reach it as RED.settings.edgelstmModelRanges.
 */
export const MODEL_NODE_RANGES: Readonly<Record<'threads' | 'maxDevices' | 'idleTtl' | 'warmup' | 'learnEvery' | 'maxDelay' | 'saveInterval', NodeRange>> = {
  threads: { default: 1, min: 1, max: 64, integer: true },
  maxDevices: bounded(ENGINE_OPTION_RANGES.maxDevices),
  idleTtl: inSeconds(ENGINE_OPTION_RANGES.idleTtlMs),
  warmup: bounded(ENGINE_OPTION_RANGES.warmup),
  learnEvery: bounded(ENGINE_OPTION_RANGES.learnEvery),
  maxDelay: bounded(ENGINE_OPTION_RANGES.maxDelayMs),
  saveInterval: { default: 60, min: 0, max: 86_400, integer: false },
};
