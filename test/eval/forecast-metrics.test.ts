import t from 'tap';
import { groupForecastAccuracy, StreamingForecastAccuracy } from '../../runtime/eval/forecast-metrics';
import { DAY_MS, medianInterval, seasonalPeriodMs, WEEK_MS } from '../../runtime/eval/seasonal-period';

const FIVE_MIN = 300_000;

function feed(m: StreamingForecastAccuracy, ts: readonly number[], ys: readonly number[], fc: (i: number) => number): void {
  for (let i = 0; i < ys.length; i++) m.observe(ts[i]!, ys[i]!, fc(i));
}

t.test('period from the timestamps: daily below a day, weekly at a day or more', async (t) => {
  t.equal(seasonalPeriodMs(FIVE_MIN), DAY_MS);
  t.equal(seasonalPeriodMs(3_600_000), DAY_MS);
  t.equal(seasonalPeriodMs(DAY_MS), WEEK_MS);
  t.ok(Number.isNaN(seasonalPeriodMs(NaN)));
  t.equal(medianInterval([0, 300, 300, 600, 500, 900, 1200, 5000]), 300, 'duplicates and backward steps skipped, gaps do not move the median');
  t.ok(Number.isNaN(medianInterval([7, 7, 7])));
});

t.test('seasonal naive is exact on a daily cycle; MASE uses the in-sample naive scale', async (t) => {
  const n = 288 * 5; // five days of 5-minute data
  const ts = Array.from({ length: n }, (_, i) => i * FIVE_MIN);
  const ys = ts.map((x) => 10 + Math.sin((2 * Math.PI * x) / DAY_MS));
  const m = new StreamingForecastAccuracy('cat/sine.csv', 288 * 2);
  feed(m, ts, ys, (i) => (i > 0 ? ys[i - 1]! : NaN));
  const r = m.result();
  t.equal(r.periodMs, DAY_MS);
  t.equal(r.rows, n - 288 * 2);
  t.equal(r.seasonalFallbacks, 0);
  t.ok(r.methods.seasonal!.mae < 1e-9, 'one day back is the same value');
  t.equal(r.methods.detector!.mae, r.methods.persistence!.mae);
  t.ok(Math.abs(r.methods.persistence!.mase - 1) < 0.01, 'persistence out of sample ~ its in-sample scale on a stationary cycle');
});

t.test('gaps: no row one season back falls back to persistence, and is counted', async (t) => {
  const ts: number[] = [];
  for (let i = 0; i < 300; i++) ts.push(i * FIVE_MIN);
  for (let i = 0; i < 50; i++) ts.push(3 * DAY_MS + i * FIVE_MIN); // day 3: nothing on day 2 to look back to
  const ys = ts.map((_, i) => i % 7);
  const m = new StreamingForecastAccuracy('cat/gappy.csv', 100);
  feed(m, ts, ys, () => NaN);
  const r = m.result();
  t.equal(r.rows, 250);
  t.equal(r.methods.detector, undefined, 'no forecasts: detector n/a');
  t.ok(r.methods.persistence, 'baselines still scored on every row past the probation');
  // Rows 100..287 are in the first day; rows 288..299 find their row one day back; the 50 day-3 rows find nothing on day 2.
  t.equal(r.seasonalFallbacks, 188 + 50);
});

t.test('sMAPE: both zero counts 0, one zero counts 200%; a flat in-sample period leaves MASE n/a', async (t) => {
  const ts = Array.from({ length: 6 }, (_, i) => i * FIVE_MIN);
  const m = new StreamingForecastAccuracy('cat/zeros.csv', 2);
  const ys = [0, 0, 0, 0, 5, 0];
  const fc = [NaN, 0, 0, 0, 0, 0];
  feed(m, ts, ys, (i) => fc[i]!);
  const r = m.result();
  t.equal(r.rows, 4);
  t.equal(r.methods.detector!.smape, (100 * (0 + 0 + 2 + 0)) / 4);
  t.ok(Number.isNaN(r.methods.detector!.mase), 'in-sample naive MAE is 0');
  const g = groupForecastAccuracy([r, { ...r, file: 'cat/other.csv', methods: { detector: { mae: 1, mase: 2, smape: 10 } } }]);
  t.same(g.map((x) => x.group), ['cat', 'all']);
  t.equal(g[0]!.methods.detector!.mase, 2, 'n/a files are left out of the MASE mean');
  t.equal(g[0]!.methods.detector!.maseFiles, 1);
  t.equal(g[0]!.methods.detector!.smape, (50 + 10) / 2);
});
