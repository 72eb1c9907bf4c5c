import t from 'tap';
import { parseNabTime } from '../../runtime/eval/timestamp';
import { decodePayload } from '../../runtime/reading/payload';
import { parseTimestamp } from '../../runtime/util/timestamp';

t.test('epoch milliseconds and ISO 8601; no zone means UTC', async (t) => {
  t.equal(parseTimestamp('1700000000000'), 1_700_000_000_000);
  t.equal(parseTimestamp(' 1700000000000.5 '), 1_700_000_000_000.5);
  t.equal(parseTimestamp('2024-05-01'), Date.UTC(2024, 4, 1));
  t.equal(parseTimestamp('2024-05-01 12:30'), Date.UTC(2024, 4, 1, 12, 30));
  t.equal(parseTimestamp('2024-05-01T12:30:15'), Date.UTC(2024, 4, 1, 12, 30, 15));
  t.equal(parseTimestamp('2024-05-01T12:30:15.250Z'), Date.UTC(2024, 4, 1, 12, 30, 15, 250));
  t.equal(parseTimestamp('2024-05-01T12:30:15+02:00'), Date.UTC(2024, 4, 1, 10, 30, 15));
  t.equal(parseTimestamp('2024-05-01T12:30:15-0130'), Date.UTC(2024, 4, 1, 14, 0, 15));
  t.equal(parseTimestamp('2014-04-01 00:00:00.123456'), Date.UTC(2014, 3, 1) + 123.456, 'microseconds kept');
  t.equal(parseTimestamp('2024-02-29'), Date.UTC(2024, 1, 29), 'a leap day');
});

t.test('NaN for what is not a timestamp, or names no real date', async (t) => {
  for (const s of ['', 'yesterday', '2024-13-01', '2023-02-29', '2024-04-31', '2024-05-01T24:00', '2024-05-01T12:60', '2024-05-01T12:00:61', '01/05/2024', 'Mon, 01 May 2024 12:00:00 GMT', '2024-05-01T12:00:00+2']) {
    t.ok(Number.isNaN(parseTimestamp(s)), JSON.stringify(s));
  }
});

t.test('NAB files, CSV replay and reading payloads read a timestamp the same way', async (t) => {
  const text = '2015-09-01 13:45:00';
  t.equal(parseNabTime(text), Date.UTC(2015, 8, 1, 13, 45));
  t.equal(parseNabTime(text), parseTimestamp(text));
  t.ok(Number.isNaN(parseNabTime('1700000000000')), 'a NAB file holds its one format only');
  const [reading] = decodePayload(Buffer.from(JSON.stringify({ device: 'd', ts: '2015-09-01T13:45:00', value: 1 })), { features: ['value'], deviceField: 'device', maxBytes: 1024 });
  t.equal((reading as { ts?: number }).ts, Date.UTC(2015, 8, 1, 13, 45), 'payload: no zone is UTC');
});
