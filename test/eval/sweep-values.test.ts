import t from 'tap';
import { fileSweep, probationaryPeriod, scaledSigmoid } from '../../runtime/eval/sweep-values';
import { normalizeScore } from '../../runtime/eval/nab-scorer';
import { NAB_PROFILES } from '../../runtime/eval/profiles';

const close = (a: number, b: number, eps = 1e-6): boolean => Math.abs(a - b) <= eps;

t.test('scaled sigmoid: SCORING.md values, -tanh(2.5y), and the flat tail past 3', async (t) => {
  t.ok(close(scaledSigmoid(-1), 0.986614));
  t.ok(close(scaledSigmoid(-0.5), 0.848284));
  t.equal(scaledSigmoid(0), 0);
  t.ok(close(scaledSigmoid(1), -0.986614));
  for (const y of [-2, -0.3, 0.7, 2.9]) t.ok(close(scaledSigmoid(y), -Math.tanh(2.5 * y), 1e-12), `y=${y}`);
  t.ok(close(scaledSigmoid(3), -Math.tanh(7.5), 1e-12), 'y = 3 is still on the curve');
  t.equal(scaledSigmoid(3.0000001), -1, 'y > 3 is exactly -1');
});

t.test('probationary period: min(floor(0.15 N), 750)', async (t) => {
  t.equal(probationaryPeriod(1127), 169);
  t.equal(probationaryPeriod(4999), 749);
  t.equal(probationaryPeriod(5000), 750);
  t.equal(probationaryPeriod(22695), 750);
  t.equal(probationaryPeriod(6), 0);
});

t.test('window values: 1 at the first row, falling to f(-1/w)/f(-1) at the last', async (t) => {
  const s = fileSweep(2000, [{ start: 400, end: 599 }]);
  t.equal(s.probation, 300);
  t.ok(Number.isNaN(s.unweighted[299]!), 'probation rows have no value');
  t.equal(s.unweighted[300], -1, 'before the first window: no softening');
  t.equal(s.unweighted[399], -1);
  t.ok(close(s.unweighted[400]!, 1, 1e-12), 'first row worth exactly tpWeight');
  t.ok(close(s.unweighted[599]!, 0.0127, 1e-4), 'w = 200: last row about 0.0127');
  let falling = true;
  for (let i = 401; i <= 599; i++) falling &&= s.unweighted[i]! < s.unweighted[i - 1]!;
  t.ok(falling, 'strictly falling across the window');
  t.equal(s.windowOf[400], 0);
  t.equal(s.windowOf[599], 0);
  t.equal(s.windowOf[600], -1);
  // After the window: y = (i - R') / (w' - 1), note w' - 1.
  t.ok(close(s.unweighted[600]!, scaledSigmoid(1 / 199), 1e-12), 'just after: near 0');
  t.ok(close(s.unweighted[599 + 199]!, scaledSigmoid(1), 1e-12), 'one width (minus one) later: f(1)');
  t.ok(close(s.unweighted[599 + 597]!, scaledSigmoid(3), 1e-12), 'y = 3');
  t.equal(s.unweighted[599 + 598], -1, 'y > 3: flat -1');
});

t.test('between two windows the softening follows the most recent ended window', async (t) => {
  const s = fileSweep(1000, [{ start: 200, end: 209 }, { start: 230, end: 239 }]);
  t.ok(close(s.unweighted[215]!, scaledSigmoid(6 / 9), 1e-12));
  t.equal(s.windowOf[230], 1);
  t.ok(close(s.unweighted[245]!, scaledSigmoid(6 / 9), 1e-12), 'measured from the second window now');
  t.equal(s.unweighted[300], -1, 'y = 61/9 > 3');
});

t.test('edge windows: one row wide, at the last row, starting inside the probation', async (t) => {
  const one = fileSweep(100, [{ start: 50, end: 50 }]);
  t.ok(close(one.unweighted[50]!, 1, 1e-12), 'a 1-row window is worth tpWeight');
  t.equal(one.unweighted[51], -1, 'w - 1 = 0: treated as far past, not NaN or -Infinity');
  const last = fileSweep(100, [{ start: 90, end: 99 }]);
  t.ok(close(last.unweighted[99]!, scaledSigmoid(-0.1) / scaledSigmoid(-1), 1e-12));
  const early = fileSweep(100, [{ start: 10, end: 20 }]);
  t.ok(Number.isNaN(early.unweighted[12]!), 'window rows in probation are not scorable');
  t.equal(early.windowOf[12], 0);
  t.ok(early.unweighted[15]! > 0, 'its rows past the probation still are');
});

t.test('window lists are checked', async (t) => {
  t.throws(() => fileSweep(100, [{ start: 10, end: 100 }]), /windows\[0\]: expected 0 <= start <= end < 100/);
  t.throws(() => fileSweep(100, [{ start: 10, end: 5 }]), RangeError);
  t.throws(() => fileSweep(100, [{ start: 10, end: 20 }, { start: 20, end: 30 }]), /sorted and disjoint/);
});

t.test('normalisation: null 0, perfect 100, per profile', async (t) => {
  for (const p of NAB_PROFILES) {
    t.equal(normalizeScore(-p.fnWeight * 116, 116, p), 0);
    t.equal(normalizeScore(p.tpWeight * 116, 116, p), 100);
  }
  t.ok(close(normalizeScore(46.634450197, 116, NAB_PROFILES[0]!), 70.101056));
  t.ok(normalizeScore(-200, 116, NAB_PROFILES[0]!) < 0, 'worse than never firing is negative');
  t.equal(normalizeScore(0, 0, NAB_PROFILES[0]!), 0, 'no windows: 0, not NaN');
});
