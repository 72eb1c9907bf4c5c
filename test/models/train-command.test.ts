import t from 'tap';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel } from '../../runtime/model/load-model';
import { chartPath, main } from '../../models/toolchain/train-command';
import { captureOutput } from '../helpers/capture';

function writeCsv(dir: string, name: string, n: number, phase = 0): string {
  const lines = ['timestamp,load,temp'];
  for (let i = 0; i < n; i++) lines.push(`${1700000000000 + i * 60000},${(50 + 10 * Math.sin((2 * Math.PI * i) / 20 + phase)).toFixed(4)},${(20 + Math.cos(i / 7)).toFixed(4)}`);
  const p = join(dir, name);
  writeFileSync(p, `${lines.join('\n')}\n`);
  return p;
}

/** Runs the command with stderr captured; returns the exit code and what it printed. */
async function run(argv: string[]): Promise<{ code: number; err: string }> {
  const { value: code, stderr: err } = await captureOutput(() => main(argv));
  return { code, err };
}

t.test('trains on two files and writes a loadable model and its loss chart', async (t) => {
  const dir = t.testdir();
  const a = writeCsv(dir, 'a.csv', 300);
  const b = writeCsv(dir, 'b.csv', 300, 1);
  const out = join(dir, 'm.onnx');
  const { code, err } = await run(['--input', `${a},${b}`, '--features', 'load,temp', '--targets', 'load', '--hidden', '6', '--window', '16', '--epochs', '3', '--seed', '4', '--out', out]);
  t.equal(code, 0, err);
  t.match(err, /epoch 1\/3 loss/);
  t.match(err, /wrote .*m\.onnx/);
  const model = await loadModel(out);
  t.same(model.metadata.features, ['load', 'temp']);
  t.same(model.metadata.targets, ['load']);
  t.same(model.metadata.normalization, { mode: 'per-device', window: 1000, minStd: 1e-3 });
  t.equal(model.id, 'm@1.0.0');
  t.same((model.metadata.training as { data: unknown }).data, { files: ['a.csv', 'b.csv'], rows: [300, 300] });
  await model.release();
  const html = readFileSync(chartPath(out), 'utf8');
  t.match(html, /<svg/);
  t.match(html, /id="val"/);
  t.notMatch(html, /<script/);
  t.same(readdirSync(dir).filter((f) => f.endsWith('.tmp')), [], 'no temporary files left');
});

t.test('--residual: the target (here the second feature) is predicted as its current input plus the head, and the file says so', async (t) => {
  const dir = t.testdir();
  const a = writeCsv(dir, 'a.csv', 200);
  const out = join(dir, 'r.onnx');
  const { code, err } = await run(['--input', a, '--features', 'load,temp', '--targets', 'temp', '--hidden', '4', '--window', '12', '--epochs', '1', '--residual', '--quiet', '--chart=false', '--out', out]);
  t.equal(code, 0, err);
  const model = await loadModel(out);
  t.same(model.weights!().residual, [1], 'y adds feature 1 (temp)');
  t.equal((model.metadata.training as { options: Record<string, unknown> }).options['residual'], true);
  await model.release();
});

t.test('every option can come from a config file; the command line wins', async (t) => {
  const dir = t.testdir();
  const a = writeCsv(dir, 'a.csv', 200);
  const cfg = join(dir, 'c.json');
  writeFileSync(cfg, JSON.stringify({ input: [a], features: ['load'], hidden: 4, window: 12, epochs: 1, normalization: 'global', name: 'from-config', version: '2.0.0', out: join(dir, 'x.onnx'), quiet: true }));
  const out = join(dir, 'y.onnx');
  const { code, err } = await run(['--config', cfg, '--out', out]);
  t.equal(code, 0, err);
  t.notOk(existsSync(join(dir, 'x.onnx')));
  const model = await loadModel(out);
  t.equal(model.id, 'from-config@2.0.0');
  t.equal(model.metadata.normalization.mode, 'global');
  t.same(model.dims, { F: 1, H: 4, L: 1, T: 1 });
  await model.release();
});

t.test('bad options are reported by name before anything starts', async (t) => {
  const dir = t.testdir();
  const a = writeCsv(dir, 'a.csv', 100);
  const out = join(dir, 'm.onnx');
  const cfg = join(dir, 'bad.json');
  writeFileSync(cfg, JSON.stringify({ hidden: 'many' }));
  const cases: [string[], RegExp][] = [
    [['--input', a, '--out', out, '--hidden', '0'], /--hidden: expected an integer >= 1/],
    [['--input', a, '--out', out, '--config', cfg], /bad\.json: option --hidden/],
    [['--input', a, '--out', out, '--features', 'load', '--targets', 'temp'], /--targets: expected a subset of --features/],
    [['--input', a, '--out', out, '--learning-rate', 'fast'], /--learning-rate/],
    [['--input', join(dir, 'none.csv'), '--out', out], /--input: expected existing CSV files/],
    [['--input', a, '--out', join(dir, 'no-such-dir', 'm.onnx')], /--out: expected a path in an existing folder/],
    [['--input', a, '--out', out, '--version', 'one'], /--version: expected a semantic version/],
    [['--input', a, '--out', out, '--normalization', 'sometimes'], /--normalization: expected one of per-device, global/],
    [['--out', out], /--input/],
  ];
  for (const [argv, re] of cases) {
    const { code, err } = await run(argv);
    t.equal(code, 2, argv.join(' '));
    t.match(err, re);
  }
  t.notOk(existsSync(out), 'no model written');
});

t.test('bad data never leaves a model file, and an existing model survives a failed run', async (t) => {
  const dir = t.testdir();
  const good = writeCsv(dir, 'good.csv', 200);
  const out = join(dir, 'm.onnx');
  t.equal((await run(['--input', good, '--features', 'load', '--hidden', '4', '--window', '12', '--epochs', '1', '--out', out, '--quiet'])).code, 0);
  const before = readFileSync(out);
  writeFileSync(join(dir, 'bad.csv'), 'timestamp,load,temp\n1,2,3\n2,oops,3\n');
  const r1 = await run(['--input', join(dir, 'bad.csv'), '--features', 'load', '--out', out]);
  t.equal(r1.code, 1);
  t.match(r1.err, /bad\.csv, line 3, column load: not a finite number/);
  const r2 = await run(['--input', good, '--features', 'load,pressure', '--out', out]);
  t.match(r2.err, /good\.csv, line 1, column pressure: feature column is missing/);
  const r3 = await run(['--input', good, '--features', 'load', '--window', '500', '--out', out]);
  t.match(r3.err, /good\.csv, line 201: too few rows for one training window \(expected at least 501 data rows, found 200\)/);
  t.same(readFileSync(out), before, 'the earlier model is untouched');
  t.same(readdirSync(dir).filter((f) => f.endsWith('.tmp')), []);
});

t.test('--help lists the options', async (t) => {
  const write = process.stdout.write.bind(process.stdout);
  let text = '';
  process.stdout.write = ((s: string | Uint8Array) => {
    text += String(s);
    return true;
  }) as typeof process.stdout.write;
  let code: number;
  try {
    code = await main(['--help']);
  } finally {
    process.stdout.write = write;
  }
  t.equal(code, 0);
  for (const o of ['--input', '--features', '--targets', '--hidden', '--layers', '--window', '--epochs', '--seed', '--out', '--logvar', '--residual', '--config']) t.match(text, o);
});
