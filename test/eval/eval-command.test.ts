import t, { type Test } from 'tap';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../runtime/eval/eval-command';
import { HAVE_NAB, NAB_DIR, NO_NAB, skipUnless } from './nab-dir';

/** Runs the command with stdout and stderr captured. */
async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const chunks: string[] = [];
  const errs: string[] = [];
  const orig = process.stdout.write.bind(process.stdout);
  const origErr = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((s: string | Uint8Array) => (chunks.push(String(s)), true)) as typeof process.stdout.write;
  process.stderr.write = ((s: string | Uint8Array) => (errs.push(String(s)), true)) as typeof process.stderr.write;
  try {
    const code = await main(argv);
    return { code, out: chunks.join(''), err: errs.join('') };
  } finally {
    process.stdout.write = orig;
    process.stderr.write = origErr;
  }
}

/** The command refuses `argv` the way every command does: exit 2 for E_CONFIG (bad usage), 1 for E_MODEL, the message on stderr. */
async function refused(t: Test, argv: string[], code: 'E_CONFIG' | 'E_MODEL', message: RegExp): Promise<void> {
  const r = await run(argv);
  t.equal(r.code, code === 'E_CONFIG' ? 2 : 1, argv.join(' '));
  t.match(r.err, message);
}

t.test('usage and option errors', async (t) => {
  t.equal((await run([])).code, 2);
  t.match((await run(['--help'])).out, /edgelstm eval nab --data DIR/);
  t.match((await run(['nab', '--help'])).out, /--detector <lstm\|persistence\|zscore\|stored>/);
  await refused(t, ['kdd'], 'E_CONFIG', /unknown benchmark "kdd"/);
  await refused(t, ['nab'], 'E_CONFIG', /--data/);
  await refused(t, ['nab', '--data', NAB_DIR, '--detector', 'magic'], 'E_CONFIG', /--detector/);
  if (HAVE_NAB) {
    await refused(t, ['nab', '--data', NAB_DIR, '--files', 'nothing*'], 'E_CONFIG', /matches no data file/);
    await refused(t, ['nab', '--data', NAB_DIR, '--detector', 'stored', '--files', 'nyc_taxi.csv'], 'E_CONFIG', /needs --scores/);
    await refused(t, ['nab', '--data', NAB_DIR, '--detector', 'lstm', '--model', '/nonexistent/m.onnx', '--files', 'nyc_taxi.csv'], 'E_MODEL', /m\.onnx/);
    const opt = (json: string): string[] => ['nab', '--data', NAB_DIR, '--detector', 'lstm', '--model', '/nonexistent/m.onnx', '--files', 'nyc_taxi.csv', '--detector-options', json];
    // Each is refused before the (missing) model is touched.
    await refused(t, opt('{bad'), 'E_CONFIG', /--detector-options: not JSON/);
    await refused(t, opt('[1]'), 'E_CONFIG', /--detector-options: expected a JSON object/);
    await refused(t, opt('{"warmUp":100}'), 'E_CONFIG', /--detector-options: unknown option "warmUp"/);
    await refused(t, opt('{"scoring":{"zcap":3}}'), 'E_CONFIG', /--detector-options: unknown option "scoring.zcap"/);
    await refused(t, opt('{"warmup":-1}'), 'E_CONFIG', /--detector-options: option warmup must be an integer from 0/);
  }
});

t.test('eval nab on a subset: scores, thresholds, forecast table, JSON', { skip: skipUnless(HAVE_NAB, NO_NAB) }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'edgelstm-eval-'));
  const json = join(dir, 'r.json');
  const { code, out } = await run(['nab', '--data', join(NAB_DIR, 'data'), '--files', 'art_daily_jumpsup.csv,realKnownCause/nyc_taxi.csv', '--json', json]);
  t.equal(code, 0);
  t.match(out, /detector edgelstm-lstm, 2 files, \d+ rows, 6 windows/, 'without --detector: the product');
  t.match(out, /The detector's own flag/, 'the flag is scored as it is');
  t.match(out, /a subset: scores are normalised over its windows only/);
  for (const p of ['standard', 'reward_low_FP_rate', 'reward_low_FN_rate']) t.match(out, new RegExp(`^${p}\\s+(\\d\\.\\d+|none)\\s+-?\\d+\\.\\d{3}\\s+-?\\d+\\.\\d{2}\\s+\\d+/6`, 'm'), `${p} row`);
  t.match(out, /^realKnownCause\s+1\s+\d+\.\d{3}/m, 'forecast table by category');
  t.match(out, /^realKnownCause\/nyc_taxi\.csv\s+\d+/m, 'forecast table by file');
  const lanes = await run(['nab', '--data', join(NAB_DIR, 'data'), '--files', 'art_daily_jumpsup.csv,realKnownCause/nyc_taxi.csv', '--concurrency', '2', '--reveal-range', '--quiet']);
  const table = (s: string): string => s.slice(s.indexOf('profile'), s.indexOf('reward_low_FN_rate'));
  t.equal(table(lanes.out), table(out), '--concurrency 2: same scores');
  t.match(lanes.out, /file min\/max revealed up front/);
  const r = JSON.parse(readFileSync(json, 'utf8')) as { scores: { profile: string; normalized: number; files: unknown[] }[]; flag: unknown[]; forecast: { files: unknown[] } };
  t.equal(r.scores.length, 3);
  t.equal(r.flag.length, 3);
  t.equal(r.scores[0]!.files.length, 2);
  t.equal(r.forecast.files.length, 2);
});

t.test('eval nab --detector stored reproduces NAB numenta from the command line', { skip: skipUnless(HAVE_NAB, NO_NAB) }, async (t) => {
  const { code, out } = await run(['nab', '--data', NAB_DIR, '--detector', 'stored', '--scores', join(NAB_DIR, 'reference_outputs', 'numenta'), '--quiet']);
  t.equal(code, 0);
  t.match(out, /^standard\s+0\.5430991\d*\s+46\.634\s+70\.10\s+96\/116\s+153\s+-$/m);
  t.match(out, /^reward_low_FN_rate\s+0\.5430991\d*\s+26\.634\s+74\.32\s/m);
  t.match(out, /^reward_low_FP_rate\s+0\.5430991\d*\s+30\.645\s+63\.21\s/m, 'the sweep beats the hill-climbed 63.12 (SCORING.md)');
  t.notMatch(out, /Forecast accuracy/, '--quiet');
  const fixed = await run(['nab', '--data', NAB_DIR, '--detector', 'stored', '--scores', join(NAB_DIR, 'reference_outputs', 'numenta'), '--quiet', '--threshold', '0.5751955032348636']);
  t.match(fixed.out, /At the fixed threshold 0\.5751955032348636/);
  t.match(fixed.out, /^reward_low_FP_rate\s+0\.575195503\d*\s+30\.431\s+63\.12\s/m, "NAB's published low-FP number at its published threshold");
});
