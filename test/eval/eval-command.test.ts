import t from 'tap';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../runtime/eval/eval-command';
import { HAVE_NAB, NAB_DIR, NO_NAB, skipUnless } from './nab-dir';

/** Runs the command with stdout captured. */
async function run(argv: string[]): Promise<{ code: number; out: string }> {
  const chunks: string[] = [];
  const orig = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((s: string | Uint8Array) => (chunks.push(String(s)), true)) as typeof process.stdout.write;
  try {
    const code = await main(argv);
    return { code, out: chunks.join('') };
  } finally {
    process.stdout.write = orig;
  }
}

t.test('usage and option errors', async (t) => {
  t.equal((await run([])).code, 2);
  t.match((await run(['--help'])).out, /edgelstm eval nab --data DIR/);
  t.match((await run(['nab', '--help'])).out, /--detector <zscore\|lstm\|persistence\|stored>/);
  await t.rejects(main(['kdd']), { code: 'E_CONFIG', message: /unknown benchmark "kdd"/ });
  await t.rejects(main(['nab']), { code: 'E_CONFIG', message: /--data/ });
  await t.rejects(main(['nab', '--data', NAB_DIR, '--detector', 'magic']), { code: 'E_CONFIG', message: /--detector/ });
  if (HAVE_NAB) {
    await t.rejects(main(['nab', '--data', NAB_DIR, '--files', 'nothing*']), { code: 'E_CONFIG', message: /matches no data file/ });
    await t.rejects(main(['nab', '--data', NAB_DIR, '--detector', 'stored', '--files', 'nyc_taxi.csv']), { code: 'E_CONFIG', message: /needs --scores/ });
    await t.rejects(main(['nab', '--data', NAB_DIR, '--detector', 'lstm', '--model', '/nonexistent/m.onnx', '--files', 'nyc_taxi.csv']), { code: 'E_MODEL', message: /m\.onnx/ });
    const opt = (json: string): string[] => ['nab', '--data', NAB_DIR, '--detector', 'lstm', '--model', '/nonexistent/m.onnx', '--files', 'nyc_taxi.csv', '--detector-options', json];
    // Each is refused before the (missing) model is touched.
    await t.rejects(main(opt('{bad')), { code: 'E_CONFIG', message: /--detector-options: not JSON/ });
    await t.rejects(main(opt('[1]')), { code: 'E_CONFIG', message: /--detector-options: expected a JSON object/ });
    await t.rejects(main(opt('{"restRow":100}')), { code: 'E_CONFIG', message: /--detector-options: unknown option "restRow"/ });
    await t.rejects(main(opt('{"restRows":-1}')), { code: 'E_CONFIG', message: /--detector-options: restRows: expected an integer >= 0, found -1/ });
  }
});

t.test('eval nab on a subset: scores, thresholds, forecast table, JSON', { skip: skipUnless(HAVE_NAB, NO_NAB) }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'edgelstm-eval-'));
  const json = join(dir, 'r.json');
  const { code, out } = await run(['nab', '--data', join(NAB_DIR, 'data'), '--files', 'art_daily_jumpsup.csv,realKnownCause/nyc_taxi.csv', '--json', json]);
  t.equal(code, 0);
  t.match(out, /detector zscore-likelihood, 2 files, \d+ rows, 6 windows/);
  t.match(out, /a subset: scores are normalised over its windows only/);
  for (const p of ['standard', 'reward_low_FP_rate', 'reward_low_FN_rate']) t.match(out, new RegExp(`^${p}\\s+(\\d\\.\\d{8}|none)\\s+-?\\d+\\.\\d{3}\\s+-?\\d+\\.\\d{2}\\s+\\d+/6`, 'm'), `${p} row`);
  t.match(out, /^realKnownCause\s+1\s+\d+\.\d{3}/m, 'forecast table by category');
  t.match(out, /^realKnownCause\/nyc_taxi\.csv\s+\d+/m, 'forecast table by file');
  const lanes = await run(['nab', '--data', join(NAB_DIR, 'data'), '--files', 'art_daily_jumpsup.csv,realKnownCause/nyc_taxi.csv', '--concurrency', '2', '--reveal-range', '--quiet']);
  const table = (s: string): string => s.slice(s.indexOf('profile'), s.indexOf('reward_low_FN_rate'));
  t.equal(table(lanes.out), table(out), '--concurrency 2: same scores');
  t.match(lanes.out, /file min\/max revealed up front/);
  const r = JSON.parse(readFileSync(json, 'utf8')) as { scores: { profile: string; normalized: number; files: unknown[] }[]; forecast: { files: unknown[] } };
  t.equal(r.scores.length, 3);
  t.equal(r.scores[0]!.files.length, 2);
  t.equal(r.forecast.files.length, 2);
});

t.test('eval nab --detector stored reproduces NAB numenta from the command line', { skip: skipUnless(HAVE_NAB, NO_NAB) }, async (t) => {
  const { code, out } = await run(['nab', '--data', NAB_DIR, '--detector', 'stored', '--scores', join(NAB_DIR, 'reference_outputs', 'numenta'), '--quiet']);
  t.equal(code, 0);
  t.match(out, /^standard\s+0\.54309915\s+46\.634\s+70\.10\s+96\/116\s+153$/m);
  t.match(out, /^reward_low_FN_rate\s+0\.54309915\s+26\.634\s+74\.32\s/m);
  t.match(out, /^reward_low_FP_rate\s+0\.54309915\s+30\.645\s+63\.21\s/m, 'the sweep beats the hill-climbed 63.12 (SCORING.md)');
  t.notMatch(out, /Forecast accuracy/, '--quiet');
  const fixed = await run(['nab', '--data', NAB_DIR, '--detector', 'stored', '--scores', join(NAB_DIR, 'reference_outputs', 'numenta'), '--quiet', '--threshold', '0.5751955032348636']);
  t.match(fixed.out, /At the fixed threshold 0\.5751955032348636/);
  t.match(fixed.out, /^reward_low_FP_rate\s+0\.57519550\s+30\.431\s+63\.12\s/m, "NAB's published low-FP number at its published threshold");
});
