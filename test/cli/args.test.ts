import t from 'tap';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { parseArgs, type OptionSpecs } from '../../runtime/cli/args';
import { EdgeLstmError } from '../../runtime/errors';

const specs = {
  model: { type: 'string', description: 'model file', required: true },
  threads: { type: 'number', description: 'threads', default: 1, min: 1, max: 64, integer: true },
  backend: { type: 'string', description: 'backend', default: 'native', choices: ['native', 'wasm'] },
  features: { type: 'list', description: 'features' },
  verbose: { type: 'boolean', description: 'verbose', default: false },
} satisfies OptionSpecs;

t.test('values from the command line, with defaults, lists and negated flags', async (t) => {
  const p = parseArgs(['--model', 'm.onnx', '--threads=4', '--features', 'a,b', '--features', 'c', '--verbose', 'pos'], specs);
  t.same(p.values, { model: 'm.onnx', threads: 4, backend: 'native', features: ['a', 'b', 'c'], verbose: true });
  t.same(p.positionals, ['pos']);
  t.equal(parseArgs(['--model', 'x', '--no-verbose'], specs).values.verbose, false);
});

t.test('--help works even when a required option is missing', async (t) => {
  const p = parseArgs(['--help'], specs);
  t.equal(p.help, true);
  t.equal(p.values.model, undefined);
});

t.test('bad options are E_CONFIG errors naming the option, what was expected and what was found', async (t) => {
  const bad: [string[], RegExp][] = [
    [[], /--model: expected a string, found nothing/],
    [['--model', 'm', '--threads', '0'], /--threads: expected an integer >= 1 <= 64, found "0"/],
    [['--model', 'm', '--threads', '2.5'], /--threads: expected an integer/],
    [['--model', 'm', '--bogus', '1'], /unknown option --bogus/],
    [['--model'], /--model: expected a value, found nothing/],
  ];
  for (const [argv, re] of bad) {
    let caught: unknown;
    try {
      parseArgs(argv, specs);
    } catch (e) {
      caught = e;
    }
    t.ok(caught instanceof EdgeLstmError && caught.code === 'E_CONFIG', `${argv.join(' ')}: E_CONFIG`);
    t.match((caught as Error).message, re);
  }
});

t.test('a JSON config file supplies options; the command line wins; its errors name the file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'edgelstm-args-'));
  const cfg = join(dir, 'c.json');
  writeFileSync(cfg, JSON.stringify({ model: 'from-config.onnx', threads: 2 }));
  t.same(parseArgs(['--config', cfg, '--threads', '3'], specs).values, { model: 'from-config.onnx', threads: 3, backend: 'native', features: undefined, verbose: false });
  writeFileSync(cfg, JSON.stringify({ model: 'm', threads: 'many' }));
  t.throws(() => parseArgs(['--config', cfg], specs), new RegExp(`${cfg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: option --threads`));
  writeFileSync(cfg, JSON.stringify({ modle: 'm' }));
  t.throws(() => parseArgs(['--config', cfg], specs), /unknown option "modle"/);
  writeFileSync(cfg, '{ not json');
  t.throws(() => parseArgs(['--config', cfg], specs), /cannot read config file/);
});
