import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { parseArgs, type OptionSpec } from '../../runtime/cli/args';
import { engineOptionSpecs } from '../../runtime/cli/engine-options';
import { ENGINE_DEFAULTS, ENGINE_OPTION_RANGES, resolveEngineOptions, type EngineOptions } from '../../runtime/engine/options';
import { LEARN_DEFAULTS, type LearnOptions } from '../../runtime/learn/learn-options';
import { MODEL_NODE_RANGES } from '../../nodes/shared/model-ranges';
import { numberSetting } from '../../nodes/shared/settings';

/**
 * Engine option -> its command-line name, its Node-RED setting (with the unit
 * factor: idleTtl is in seconds there), its key in `learn` for the learn
 * options, and whether the command line leaves the default to the engine.
 */
const NAMES: Record<keyof typeof ENGINE_OPTION_RANGES, { cli: keyof typeof engineOptionSpecs; node?: keyof typeof MODEL_NODE_RANGES; scale?: number; learn?: keyof LearnOptions; noDefault?: true }> = {
  maxBatch: { cli: 'max-batch' },
  maxDelayMs: { cli: 'max-delay-ms', node: 'maxDelay' },
  maxDevices: { cli: 'max-devices', node: 'maxDevices' },
  idleTtlMs: { cli: 'idle-ttl-ms', node: 'idleTtl', scale: 1000 },
  maxGapMs: { cli: 'max-gap-ms' },
  warmup: { cli: 'warmup', node: 'warmup' },
  warmupMs: { cli: 'warmup-ms' },
  threshold: { cli: 'threshold', noDefault: true },
  horizon: { cli: 'horizon' },
  learnEvery: { cli: 'learn-every', node: 'learnEvery', learn: 'every' },
  learnIntervalMs: { cli: 'learn-interval-ms', learn: 'intervalMs' },
  learnSteps: { cli: 'learn-steps', learn: 'steps' },
  learnWindow: { cli: 'learn-window', learn: 'window' },
  learnWindows: { cli: 'learn-windows', learn: 'windows' },
  learnDevices: { cli: 'learn-devices', learn: 'devices' },
  learnRate: { cli: 'learn-rate', learn: 'learningRate' },
  learnCpuShare: { cli: 'learn-cpu-share', learn: 'cpuShare' },
};

const engineValue = (name: keyof typeof ENGINE_OPTION_RANGES, v: number): EngineOptions => {
  const key = NAMES[name].learn;
  // learn.minWindows may not exceed learn.windows: a small windows value brings minWindows down with it.
  if (key !== undefined) return { learn: key === 'windows' ? { windows: v, minWindows: Math.min(LEARN_DEFAULTS.minWindows, Math.max(2, Math.floor(v))) } : { [key]: v } };
  return { [name]: v };
};

t.test('defaults come from ENGINE_DEFAULTS and LEARN_DEFAULTS', async (t) => {
  for (const [name, r] of Object.entries(ENGINE_OPTION_RANGES) as [keyof typeof ENGINE_OPTION_RANGES, { default: number }][]) {
    const key = NAMES[name].learn;
    t.equal(r.default, key !== undefined ? LEARN_DEFAULTS[key] : ENGINE_DEFAULTS[name as keyof typeof ENGINE_DEFAULTS], name);
  }
});

t.test('every numeric command-line engine option is a row of ENGINE_OPTION_RANGES', async (t) => {
  const rows = new Set(Object.values(NAMES).map((n) => n.cli));
  for (const [cli, spec] of Object.entries(engineOptionSpecs)) if (spec.type === 'number') t.ok(rows.has(cli as keyof typeof engineOptionSpecs), `--${cli} takes its range from the table`);
  t.equal(engineOptionSpecs.sensitivity.default, ENGINE_DEFAULTS.sensitivity);
  t.equal(engineOptionSpecs.learn.default, ENGINE_DEFAULTS.learn !== null);
  t.equal(engineOptionSpecs['learn-deterministic'].default, LEARN_DEFAULTS.deterministic);
});

t.test('the engine, the command line and the Node-RED node accept the same range', async (t) => {
  const warnings: string[] = [];
  const warn = (m: string): void => void warnings.push(m);
  for (const [name, r] of Object.entries(ENGINE_OPTION_RANGES) as [keyof typeof ENGINE_OPTION_RANGES, (typeof ENGINE_OPTION_RANGES)[keyof typeof ENGINE_OPTION_RANGES]][]) {
    const { cli, node, scale = 1, noDefault } = NAMES[name];
    const spec: OptionSpec = engineOptionSpecs[cli];
    const above = 'above' in r && r.above;
    t.same(
      { default: spec.default, min: spec.min, max: spec.max, above: spec.above === true, integer: spec.integer },
      { default: noDefault ? undefined : r.default, min: r.min, max: 'max' in r ? r.max : undefined, above, integer: r.integer },
      `--${cli} is ${name}'s range`,
    );
    const inside = [above ? r.min + 1e-6 : r.min, 'max' in r ? r.max : r.min + 1000];
    const outside = [r.min - 1, ...(above ? [r.min] : []), ...('max' in r ? [r.max + 1] : []), ...(r.integer ? [r.min + 0.5] : [])];
    for (const v of inside) {
      t.doesNotThrow(() => resolveEngineOptions(engineValue(name, v)), `engine accepts ${name} ${v}`);
      t.equal(parseArgs([`--${cli}`, String(v)], engineOptionSpecs).values[cli], v, `command line accepts --${cli} ${v}`);
      if (node) t.equal(numberSetting(warn, node, v / scale, MODEL_NODE_RANGES[node]), v / scale, `Node-RED accepts ${node} ${v / scale}`);
    }
    for (const v of outside) {
      t.throws(() => resolveEngineOptions(engineValue(name, v)), { code: 'E_CONFIG' }, `engine refuses ${name} ${v}`);
      t.throws(() => parseArgs([`--${cli}`, String(v)], engineOptionSpecs), { code: 'E_CONFIG', message: new RegExp(`--${cli}`) }, `command line refuses --${cli} ${v}`);
      if (node) {
        const n = warnings.length;
        t.equal(numberSetting(warn, node, v / scale, MODEL_NODE_RANGES[node]), r.default / scale, `Node-RED refuses ${node} ${v / scale}: the default`);
        t.equal(warnings.length, n + 1, 'with a warning');
      }
    }
  }
});

t.test('maxDelay: one bound, 60000 ms, in the config file too', async (t) => {
  t.equal(MODEL_NODE_RANGES.maxDelay.max, 60_000);
  t.equal(engineOptionSpecs['max-delay-ms'].max, 60_000);
  t.throws(() => parseArgs(['--max-delay-ms', '60001'], engineOptionSpecs), { message: /option --max-delay-ms: expected a number >= 0 <= 60000, found "60001"/ });
  const dir = (await import('node:fs')).mkdtempSync(join((await import('node:os')).tmpdir(), 'edgelstm-ranges-'));
  const cfg = join(dir, 'c.json');
  (await import('node:fs')).writeFileSync(cfg, JSON.stringify({ 'max-delay-ms': 60001 }));
  t.throws(() => parseArgs(['--config', cfg], engineOptionSpecs), { message: /c\.json: option --max-delay-ms: expected a number >= 0 <= 60000, found 60001/ });
});

t.test('the Node-RED editor validates with the runtime\'s ranges, none typed into the HTML', async (t) => {
  const html = readFileSync(join(__dirname, '../../nodes/edgelstm-model/edgelstm-model.html'), 'utf8');
  for (const name of Object.keys(MODEL_NODE_RANGES)) t.match(html, new RegExp(`${name}: \\{ value: dflt\\('${name}'\\), validate: ranged\\('${name}'\\) \\}`), name);
  t.notMatch(html, /numberIn\(\d/, 'no literal range');
  t.match(readFileSync(join(__dirname, '../../nodes/edgelstm-model/edgelstm-model.ts'), 'utf8'), /edgelstmModelRanges: \{ value: R, exportable: true \}/);
});
