import t from 'tap';
import type { Test } from 'tap';
import { EdgeLstmError } from '../../runtime/errors';
import { parseTrainingCsv, readTrainingCsv } from '../../models/toolchain/training-csv';

const rows = (n: number, f: (i: number) => string): string => Array.from({ length: n }, (_, i) => f(i)).join('\n');
const good = `timestamp,value,temp,extra\n${rows(10, (i) => `2024-01-01 00:0${i}:00,${i % 3},${20 + i},x`)}\n`;

function csvErr(t: Test, fn: () => unknown, want: { line?: number; column?: string; message: RegExp }): void {
  try {
    fn();
    t.fail('expected an E_CSV error');
  } catch (e) {
    t.ok(e instanceof EdgeLstmError, 'an EdgeLstmError');
    const err = e as EdgeLstmError;
    t.equal(err.code, 'E_CSV');
    t.equal(err.details.file, 'data.csv');
    t.match(err.message, /^data\.csv/, 'message starts with the file');
    if (want.line !== undefined) {
      t.equal(err.details.line, want.line, 'line');
      t.match(err.message, `line ${want.line}`);
    }
    if (want.column !== undefined) {
      t.equal(err.details.column, want.column, 'column');
      t.match(err.message, `column ${want.column}`);
    }
    t.match(err.message, want.message);
  }
}

t.test('reads the named columns in order and ignores the others', (t) => {
  const s = parseTrainingCsv(good, 'data.csv', ['temp', 'value'], 5);
  t.equal(s.columns.length, 2);
  t.same(Array.from(s.columns[0]!.subarray(0, 3)), [20, 21, 22]);
  t.same(Array.from(s.columns[1]!.subarray(0, 3)), [0, 1, 2]);
  t.end();
});

t.test('quoted fields, CRLF, a BOM-less header with spaces and blank lines', (t) => {
  const s = parseTrainingCsv('timestamp, value\r\n1,"1.5"\r\n\r\n2,2\r\n3,1\r\n', 'data.csv', ['value'], 3);
  t.same(Array.from(s.columns[0]!), [1.5, 2, 1]);
  t.end();
});

t.test('a missing feature column names line 1 and the column', (t) => {
  csvErr(t, () => parseTrainingCsv(good, 'data.csv', ['value', 'pressure'], 5), { line: 1, column: 'pressure', message: /missing/ });
  t.end();
});

t.test('a missing timestamp column', (t) => {
  csvErr(t, () => parseTrainingCsv('time,value\n1,2\n', 'data.csv', ['value'], 1), { line: 1, column: 'timestamp', message: /no timestamp column/ });
  t.end();
});

t.test('a non-numeric cell names its line and column', (t) => {
  const text = good.replace('2024-01-01 00:04:00,1,24', '2024-01-01 00:04:00,1,hot');
  csvErr(t, () => parseTrainingCsv(text, 'data.csv', ['value', 'temp'], 5), { line: 6, column: 'temp', message: /not a finite number.*"hot"/ });
  t.end();
});

t.test('an empty cell and a bad timestamp', (t) => {
  csvErr(t, () => parseTrainingCsv('timestamp,value\n1,2\n2,\n', 'data.csv', ['value'], 1), { line: 3, column: 'value', message: /not a finite number/ });
  csvErr(t, () => parseTrainingCsv('timestamp,value\n1,2\nyesterday,3\n', 'data.csv', ['value'], 1), { line: 3, column: 'timestamp', message: /bad timestamp/ });
  t.end();
});

t.test('too few rows for one window', (t) => {
  csvErr(t, () => parseTrainingCsv(good, 'data.csv', ['value'], 65), { line: 11, message: /too few rows.*at least 65 data rows, found 10/ });
  csvErr(t, () => parseTrainingCsv('timestamp,value\n', 'data.csv', ['value'], 2), { line: 1, message: /too few rows/ });
  t.end();
});

t.test('a constant column is refused as zero variance, naming the column', (t) => {
  const text = `timestamp,value,flat\n${rows(10, (i) => `${i},${i},7`)}\n`;
  csvErr(t, () => parseTrainingCsv(text, 'data.csv', ['value', 'flat'], 5), { line: 2, column: 'flat', message: /zero variance.*7 on all 10 rows/ });
  t.end();
});

t.test('an empty file and an unreadable one', (t) => {
  csvErr(t, () => parseTrainingCsv('\n\n', 'data.csv', ['value'], 1), { line: 1, message: /empty/ });
  t.throws(() => readTrainingCsv('/nonexistent/data.csv', ['value'], 1), { code: 'E_CSV', message: /cannot read/ });
  t.end();
});

t.test('a short row', (t) => {
  csvErr(t, () => parseTrainingCsv('timestamp,value,temp\n1,2,3\n2,3\n', 'data.csv', ['value'], 1), { line: 3, message: /too few fields/ });
  t.end();
});
