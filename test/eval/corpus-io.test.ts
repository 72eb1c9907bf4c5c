import t from 'tap';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readWindowLabels, resolveWindows } from '../../runtime/eval/labels';
import { globToRegExp, listNabFiles, loadNabFile, readProfiles, resolveNabPaths, selectFiles } from '../../runtime/eval/nab-corpus';
import { NAB_PROFILES } from '../../runtime/eval/profiles';
import { parseSeriesCsv, readSeriesCsv } from '../../runtime/eval/series-csv';
import { parseNabTime } from '../../runtime/eval/timestamp';

t.test('NAB times: UTC, with or without microseconds', async (t) => {
  t.equal(parseNabTime('2014-11-01 19:00:00'), Date.UTC(2014, 10, 1, 19));
  t.equal(parseNabTime('2014-11-01 19:00:00.000000'), parseNabTime('2014-11-01 19:00:00'));
  t.equal(parseNabTime('2014-11-01 19:00:00.5'), Date.UTC(2014, 10, 1, 19) + 500);
  t.ok(Number.isNaN(parseNabTime('11/01/2014 19:00')));
});

t.test('CSV: rows stay in file order; errors are E_CSV naming file, line and column', async (t) => {
  const s = parseSeriesCsv('timestamp,value\n2014-01-01 00:05:00,2\n2014-01-01 00:00:00,1.5\n2014-01-01 00:00:00,1\n', 'x.csv');
  t.same(Array.from(s.values), [2, 1.5, 1], 'backward and duplicated times kept as they are');
  t.throws(() => parseSeriesCsv('timestamp,value\n2014-01-01 00:00:00,abc\n', 'x.csv'), { code: 'E_CSV', message: 'x.csv, line 2, column value: not a finite number (expected ?, found abc)' });
  t.throws(() => parseSeriesCsv('timestamp,value\nyesterday,1\n', 'x.csv'), { code: 'E_CSV', details: { file: 'x.csv', line: 2, column: 'timestamp' } });
  t.throws(() => parseSeriesCsv('timestamp,value\n2014-01-01 00:00:00,1,2\n', 'x.csv'), { code: 'E_CSV', details: { line: 2 }, message: /wrong number of fields/ });
  t.throws(() => parseSeriesCsv('time,value\n', 'x.csv'), { code: 'E_CSV', details: { line: 1, column: 'timestamp' } });
  t.throws(() => parseSeriesCsv('timestamp,value\n', 'x.csv', 'anomaly_score'), { code: 'E_CSV', details: { column: 'anomaly_score' } });
  t.throws(() => parseSeriesCsv('', 'x.csv'), /empty/);
  t.throws(() => readSeriesCsv('/nonexistent/x.csv'), { code: 'E_CSV', message: /cannot read/ });
  t.equal(parseSeriesCsv('timestamp,value\r\n2014-01-01 00:00:00,1\r\n', 'crlf.csv').values[0], 1, 'CRLF line ends');
});

t.test('windows resolve by position; a boundary matching no row is an error', async (t) => {
  const ts = ['2014-01-01 00:00:00', '2014-01-01 00:05:00', '2014-01-01 00:10:00', '2014-01-01 00:05:00', '2014-01-01 00:15:00'].map(parseNabTime);
  t.same(resolveWindows(ts, [['2014-01-01 00:05:00.000000', '2014-01-01 00:10:00.000000']], 'l.json', 'a/b.csv'), [{ start: 1, end: 2 }]);
  t.throws(() => resolveWindows(ts, [['2014-01-01 00:06:00', '2014-01-01 00:10:00']], 'l.json', 'a/b.csv'), { code: 'E_CONFIG', message: 'l.json: a/b.csv[0]: window start matches no row of the data file (found 2014-01-01 00:06:00)' });
  t.throws(() => resolveWindows(ts, [['2014-01-01 00:10:00', '2014-01-01 00:00:00']], 'l.json', 'a/b.csv'), /window end matches no row/);
  t.throws(() => resolveWindows(ts, [['x', 'y']], 'l.json', 'a/b.csv'), /bad window time/);
});

t.test('file selection: keys, globs, bare names; a pattern matching nothing is an error', async (t) => {
  const keys = ['a/one.csv', 'a/two.csv', 'b/one.csv', 'b/three.csv'];
  t.same(selectFiles(keys, undefined), keys);
  t.same(selectFiles(keys, ['b/*', 'a/two.csv']), ['a/two.csv', 'b/one.csv', 'b/three.csv'], 'corpus order');
  t.same(selectFiles(keys, ['one.csv']), ['a/one.csv', 'b/one.csv'], 'bare file name');
  t.same(selectFiles(keys, ['**/t*.csv']), ['a/two.csv', 'b/three.csv']);
  t.throws(() => selectFiles(keys, ['c/*']), { code: 'E_CONFIG', message: '--files: "c/*" matches no data file' });
  t.ok(globToRegExp('a/?.csv').test('a/x.csv'));
  t.notOk(globToRegExp('a.csv').test('abcsv'), 'dots are literal');
});

t.test('a corpus folder: layout, labels, profiles', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'edgelstm-nab-'));
  mkdirSync(join(root, 'data', 'cat'), { recursive: true });
  mkdirSync(join(root, 'labels'));
  writeFileSync(join(root, 'data', 'cat', 'f.csv'), 'timestamp,value\n2014-01-01 00:00:00,1\n2014-01-01 00:05:00,2\n');
  writeFileSync(join(root, 'data', 'README.md'), 'not a category');
  writeFileSync(join(root, 'labels', 'combined_windows.json'), JSON.stringify({ 'cat/f.csv': [['2014-01-01 00:05:00.000000', '2014-01-01 00:05:00.000000']] }));
  const p = resolveNabPaths(root);
  t.same(resolveNabPaths(join(root, 'data')), p, 'root or data/ both work');
  t.equal(p.profilesFile, undefined);
  t.same(readProfiles(p.profilesFile), NAB_PROFILES, 'built-in profiles without a file');
  t.same(listNabFiles(p.dataDir), ['cat/f.csv']);
  const f = loadNabFile(p, readWindowLabels(p.labelsFile), 'cat/f.csv');
  t.same(f.windows, [{ start: 1, end: 1 }]);
  t.equal(f.category, 'cat');
  t.throws(() => loadNabFile(p, new Map(), 'cat/f.csv'), { code: 'E_CONFIG', message: /no windows listed for cat\/f\.csv/ });
  t.throws(() => resolveNabPaths(join(root, 'nope')), { code: 'E_CONFIG', message: /--data: not a folder/ });
  t.throws(() => resolveNabPaths(root, join(root, 'missing.json')), { code: 'E_CONFIG', message: /--labels: no such file/ });
  writeFileSync(join(root, 'bad.json'), '{"cat/f.csv": [["2014-01-01 00:05:00"]]}');
  t.throws(() => readWindowLabels(join(root, 'bad.json')), /cat\/f\.csv\[0\]: expected \[start, end\] time strings/);
  writeFileSync(join(root, 'bad.json'), '[');
  t.throws(() => readWindowLabels(join(root, 'bad.json')), { code: 'E_CONFIG', message: /cannot read labels/ });
  mkdirSync(join(root, 'config'));
  writeFileSync(join(root, 'config', 'profiles.json'), JSON.stringify({ standard: { CostMatrix: { tpWeight: 1, fpWeight: -1, fnWeight: 1 } } }));
  t.throws(() => readProfiles(resolveNabPaths(root).profilesFile), { code: 'E_CONFIG', message: /standard\.CostMatrix\.fpWeight: expected a number >= 0, found -1/ });
});
