import t from 'tap';
import { SIGNAL_FAMILIES, syntheticCorpus, syntheticSeries } from '../../models/toolchain/signals';

t.test('the same seed and index give the same series; others differ', (t) => {
  const a = syntheticSeries(3, 7, 500);
  const b = syntheticSeries(3, 7, 500);
  t.same(Array.from(a.values), Array.from(b.values));
  t.same(a.families, b.families);
  t.notSame(Array.from(syntheticSeries(3, 8, 500).values), Array.from(a.values));
  t.notSame(Array.from(syntheticSeries(4, 7, 500).values), Array.from(a.values));
  t.end();
});

t.test('a corpus covers every family, with finite, varying values over several scales', (t) => {
  const corpus = syntheticCorpus(1, 200, 1500, 0.1);
  const seen = new Set(corpus.flatMap((s) => s.families));
  for (const f of SIGNAL_FAMILIES) t.ok(seen.has(f), `family ${f} appears`);
  const spans: number[] = [];
  for (const s of corpus) {
    t.equal(s.values.length, 1500);
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of s.values) {
      if (!Number.isFinite(v)) t.fail(`${s.name} has a non-finite value`);
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    t.ok(hi > lo, `${s.name} varies`);
    spans.push(hi - lo);
  }
  spans.sort((a, b) => a - b);
  t.ok(spans[spans.length - 1]! / spans[0]! > 1000, 'scales span orders of magnitude');
  t.end();
});

t.test('seasonal series repeat at their daily period', (t) => {
  // Correlation at lag = one day should be high for a mostly seasonal series.
  const s = syntheticCorpus(1, 60, 3000).find((x) => x.families.length === 1 && x.families[0] === 'seasonal')!;
  t.ok(s, 'found a purely seasonal series');
  const v = s.values;
  const lag = s.samplesPerDay;
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  let num = 0;
  let den = 0;
  for (let i = 0; i < v.length; i++) den += (v[i]! - mean) ** 2;
  for (let i = lag; i < v.length; i++) num += (v[i]! - mean) * (v[i - lag]! - mean);
  t.ok(num / den > 0.5, `autocorrelation at lag ${lag}: ${(num / den).toFixed(2)}`);
  t.end();
});

t.test('daily-steps replaces a share of the series by a flat-stretched daily schedule and leaves the others as they were', (t) => {
  const plain = syntheticCorpus(1, 100, 1000);
  const mixed = syntheticCorpus(1, 100, 1000, 0.2);
  let replaced = 0;
  for (let i = 0; i < 100; i++) {
    const m = mixed[i]!;
    if (m.families.includes('daily-steps')) {
      replaced++;
      t.same(m.families, ['daily-steps'], `${m.name}: replaced, not mixed`);
      t.ok(Math.max(...m.values) > Math.min(...m.values), `${m.name} varies`);
    } else {
      t.same(Array.from(m.values), Array.from(plain[i]!.values), `${m.name} unchanged`);
    }
  }
  t.ok(replaced >= 10 && replaced <= 30, `replaced ${replaced} of 100 at 0.2`);
  t.notOk(plain.some((s) => s.families.includes('daily-steps')), 'off by default');
  // Half of them are noise-free: the next value equals the last on most rows.
  const quiet = mixed.filter((s) => s.families.includes('daily-steps')).map((s) => {
    let same = 0;
    for (let j = 1; j < s.values.length; j++) if (s.values[j] === s.values[j - 1]) same++;
    return same / (s.values.length - 1);
  });
  t.ok(quiet.some((f) => f > 0.5), `some schedules hold the last value on most rows (${quiet.map((f) => f.toFixed(2)).join(' ')})`);
  t.end();
});
