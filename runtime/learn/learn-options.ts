import { EdgeLstmError } from '../errors';
import { checkRange, type OptionRange } from '../util/option-range';

/**
 * Continual learning: the engine fine-tunes its model on the fleet's own
 * recent windows in a worker thread and swaps the result in between batches.
 * Every option is optional; defaults are in LEARN_DEFAULTS.
 */
export interface LearnOptions {
  /** Fine-tune after every this many accepted readings (all devices together). Default 2000. */
  every: number;
  /** Also fine-tune every this many ms of wall time (0: only by count). Not allowed with `deterministic`. Default 0. */
  intervalMs: number;
  /** Steps in one training window (truncated BPTT length). Default 32. */
  window: number;
  /** Windows kept, the most recent ones: bounds the learner's memory. Default 256. */
  windows: number;
  /** Devices windows are cut from: the first ones seen, in arrival order. Default 64. */
  devices: number;
  /** Windows needed before the first fine-tune. Default 8. */
  minWindows: number;
  /** Adam steps in one fine-tune: the CPU budget of one round. Default 10. */
  steps: number;
  /** Windows per Adam step. Default 8. */
  batchSize: number;
  /** Adam learning rate. Default 1e-3: a nudge, the shipped model stays the prior. */
  learningRate: number;
  /** Global L2 norm the gradient is clipped to. Default 1. */
  clipNorm: number;
  /**
   * Every n-th window (by age) is held out; a fine-tune is swapped in only
   * when it predicts those windows better than the model it would replace.
   * Default 4. 0: no check (every finished fine-tune is swapped in).
   */
  holdoutEvery: number;
  /** Share of one core the worker may use: it sleeps between Adam steps to stay under it. Default 0.5. */
  cpuShare: number;
  /** Nice value of the worker thread (Linux; 0 to 19): the inference thread and other work come first. Default 10. */
  nice: number;
  /** Seed of the window sampling; with the input order it fixes every fine-tune. Default 1. */
  seed: number;
  /**
   * Swap each fine-tune in at exactly the reading that triggered it: the
   * stream waits for the worker, so the same input order gives the same
   * results. For tests and evaluation. Default false (the stream never waits).
   */
  deterministic: boolean;
}

export const LEARN_DEFAULTS: Readonly<LearnOptions> = Object.freeze({
  every: 2000,
  intervalMs: 0,
  window: 32,
  windows: 256,
  devices: 64,
  minWindows: 8,
  steps: 10,
  batchSize: 8,
  learningRate: 1e-3,
  clipNorm: 1,
  holdoutEvery: 4,
  cpuShare: 0.5,
  nice: 10,
  seed: 1,
  deterministic: false,
});

type NumericLearnOption = Exclude<keyof LearnOptions, 'deterministic'>;

/**
 * The numeric learn options' defaults (LEARN_DEFAULTS) and ranges, as
 * resolveLearnOptions enforces them; the command line's --learn-* options
 * take theirs from here too (through ENGINE_OPTION_RANGES).
 */
export const LEARN_OPTION_RANGES = {
  every: { default: LEARN_DEFAULTS.every, min: 1, integer: true },
  intervalMs: { default: LEARN_DEFAULTS.intervalMs, min: 0, integer: false },
  // Windows past a few hundred steps cost memory and time for nothing a sensor stream needs.
  window: { default: LEARN_DEFAULTS.window, min: 2, max: 1024, integer: true },
  // The ring is scanned linearly when it is full; a few thousand windows keep that cheap.
  windows: { default: LEARN_DEFAULTS.windows, min: 2, max: 16_384, integer: true },
  devices: { default: LEARN_DEFAULTS.devices, min: 1, max: 100_000, integer: true },
  minWindows: { default: LEARN_DEFAULTS.minWindows, min: 2, max: 16_384, integer: true },
  steps: { default: LEARN_DEFAULTS.steps, min: 1, max: 100_000, integer: true },
  batchSize: { default: LEARN_DEFAULTS.batchSize, min: 1, max: 4096, integer: true },
  learningRate: { default: LEARN_DEFAULTS.learningRate, min: 0, above: true, max: 1, integer: false },
  clipNorm: { default: LEARN_DEFAULTS.clipNorm, min: 0, max: 1e6, integer: false },
  holdoutEvery: { default: LEARN_DEFAULTS.holdoutEvery, min: 0, max: 1000, integer: true },
  cpuShare: { default: LEARN_DEFAULTS.cpuShare, min: 0, above: true, max: 1, integer: false },
  nice: { default: LEARN_DEFAULTS.nice, min: 0, max: 19, integer: true },
  seed: { default: LEARN_DEFAULTS.seed, min: 0, max: 0xffffffff, integer: true },
} as const satisfies Record<NumericLearnOption, OptionRange>;

/** `learn` as the engine takes it: true for the defaults, an object to change some, false or absent: off. */
export type LearnSetting = boolean | Partial<LearnOptions>;

/** Normalizes the setting once; null means off. A bad value is E_CONFIG naming `learn.<option>`. */
export function resolveLearnOptions(s: LearnSetting | undefined): LearnOptions | null {
  if (s === undefined || s === false) return null;
  if (s !== true && (typeof s !== 'object' || s === null || Array.isArray(s))) {
    throw new EdgeLstmError('E_CONFIG', `option learn must be true, false or an object, got ${JSON.stringify(s)}`, { field: 'learn', expected: 'boolean | object', found: JSON.stringify(s) });
  }
  const given: Partial<LearnOptions> = s === true ? {} : s;
  for (const k of Object.keys(given)) {
    if (!(k in LEARN_DEFAULTS)) throw new EdgeLstmError('E_CONFIG', `unknown option learn.${k}`, { field: `learn.${k}`, expected: Object.keys(LEARN_DEFAULTS).join(', '), found: k });
  }
  const r: LearnOptions = { ...LEARN_DEFAULTS };
  for (const [k, v] of Object.entries(given)) if (v !== undefined) (r as unknown as Record<string, unknown>)[k] = v;
  for (const [name, range] of Object.entries(LEARN_OPTION_RANGES)) checkRange(`learn.${name}`, r[name as NumericLearnOption], range);
  if (typeof r.deterministic !== 'boolean') throw new EdgeLstmError('E_CONFIG', 'option learn.deterministic must be a boolean', { field: 'learn.deterministic', expected: 'boolean', found: JSON.stringify(r.deterministic) });
  if (r.minWindows > r.windows) throw new EdgeLstmError('E_CONFIG', `option learn.minWindows (${r.minWindows}) is more than learn.windows (${r.windows}) can hold`, { field: 'learn.minWindows', expected: `at most ${r.windows}`, found: String(r.minWindows) });
  if (r.deterministic && r.intervalMs > 0) throw new EdgeLstmError('E_CONFIG', 'option learn.intervalMs counts wall time, which learn.deterministic excludes', { field: 'learn.intervalMs', expected: '0 with learn.deterministic', found: String(r.intervalMs) });
  return r;
}
