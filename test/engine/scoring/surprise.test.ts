import t from 'tap';
import { normalTail } from '../../../runtime/engine/likelihood';
import { likelihoodToNines, ninesToLikelihood, tailNines } from '../../../runtime/engine/scoring/surprise';

t.test('tail nines: the body as -log10 of the tail, the far tail without underflow, continuous at the seam', async (t) => {
  t.ok(Math.abs(tailNines(0, normalTail) - Math.log10(2)) < 1e-6, 'z = 0: half the mass, 0.301 nines');
  t.ok(Math.abs(tailNines(3, normalTail) - -Math.log10(normalTail(3))) < 1e-9);
  t.ok(Math.abs(tailNines(5.999999, normalTail) - tailNines(6, normalTail)) < 1e-3, `continuous at z = 6 (${tailNines(5.999999, normalTail)} vs ${tailNines(6, normalTail)})`);
  // P(Z > 10) = 7.62e-24, P(Z > 40) ~ 3.7e-350 (below the smallest double).
  t.ok(Math.abs(tailNines(10, normalTail) - 23.118) < 0.01, `z = 10: ${tailNines(10, normalTail)}`);
  t.ok(Number.isFinite(tailNines(40, normalTail)) && tailNines(40, normalTail) > 340, 'z = 40: finite, where 1 - tail is exactly 1');
  let prev = -Infinity;
  for (let z = -5; z < 60; z += 0.25) {
    const n = tailNines(z, normalTail);
    t.ok(n > prev, `increasing at z = ${z}`);
    prev = n;
  }
});

t.test('nines to likelihood: 1 - 10^-n up to 8 nines, strictly increasing to 80 nines and below 1 beyond; the inverse', async (t) => {
  t.equal(ninesToLikelihood(0), 0);
  t.equal(ninesToLikelihood(-3), 0);
  t.ok(Math.abs(ninesToLikelihood(4) - 0.9999) < 1e-15, 'Numenta scale below 8 nines');
  let prev = 0;
  for (const n of [1, 4, 8, 8.5, 10, 14, 20, 40, 80]) {
    const l = ninesToLikelihood(n);
    t.ok(l > prev && l < 1, `${n} nines -> ${l}: above the previous and below 1`);
    prev = l;
  }
  // Past ~100 nines the steps fall below a double's spacing near 1: equal, never above 1.
  for (const n of [200, 1000, 1e9]) t.ok(ninesToLikelihood(n) >= prev && ninesToLikelihood(n) < 1, `${n} nines: not below 80's, below 1`);
  for (const n of [0.5, 3, 8, 9, 11]) t.ok(Math.abs(likelihoodToNines(ninesToLikelihood(n)) - n) < 1e-4, `round trip at ${n}`);
  t.equal(likelihoodToNines(1), Infinity);
});
