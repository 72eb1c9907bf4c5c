import t from 'tap';
import { Adam, clipGradNorm } from '../../runtime/learn/adam';
import { globalNormalization, prepareSeries, type RawSeries } from '../../models/toolchain/series-data';
import { TRAIN_DEFAULTS, trainLstm, type TrainOptions } from '../../models/toolchain/train';
import { splitWindows } from '../../models/toolchain/windows';
import { observe, normalizeInto, featureMean, featureStd } from '../../runtime/model/normalizer';

function sine(n: number, period: number, noise = 0): RawSeries {
  const v = new Float64Array(n);
  for (let i = 0; i < n; i++) v[i] = 100 + 20 * Math.sin((2 * Math.PI * i) / period) + noise * Math.sin(i * 12.9898);
  return { name: `sine-${period}`, columns: [v] };
}

const per = { mode: 'per-device' as const, window: 50, minStd: 1e-3 };
const small: TrainOptions = { ...TRAIN_DEFAULTS, hidden: 8, window: 24, batchSize: 8, epochs: 12, learningRate: 1e-2, seed: 5 };

t.test('learns a sine: validation loss falls well below the first epoch and below persistence', (t) => {
  const s = prepareSeries(sine(1200, 30), per, [0]);
  const r = trainLstm([s], 1, 1, small);
  const first = r.history[0]!.valLoss!;
  const best = Math.min(...r.history.map((h) => h.valLoss!));
  t.ok(best < first / 3, `val loss ${first.toPrecision(3)} -> ${best.toPrecision(3)}`);
  // Persistence in normalized units: predict target_t = x_t.
  let pse = 0;
  const from = Math.floor(s.rows * 0.8);
  for (let i = from; i < s.rows; i++) pse += (s.y[i]! - s.x[i]!) ** 2;
  t.ok(best < pse / (s.rows - from), `beats persistence (${(pse / (s.rows - from)).toPrecision(3)})`);
  t.equal(r.loss, 'mse');
  t.end();
});

t.test('same seed, same model; another seed, another model', (t) => {
  const s = [prepareSeries(sine(400, 20, 1), per, [0])];
  const o = { ...small, epochs: 2 };
  const a = trainLstm(s, 1, 1, o);
  const b = trainLstm(s, 1, 1, o);
  const c = trainLstm(s, 1, 1, { ...o, seed: 6 });
  t.same(Array.from(a.params), Array.from(b.params), 'bit-identical parameters');
  t.same(a.history.map((h) => h.trainLoss), b.history.map((h) => h.trainLoss));
  t.notSame(Array.from(a.params), Array.from(c.params));
  t.end();
});

t.test('early stopping keeps the best epoch and stops after `patience` worse ones', (t) => {
  const s = [prepareSeries(sine(600, 25, 3), per, [0])];
  // A learning rate this high makes the validation loss bounce.
  const r = trainLstm(s, 1, 1, { ...small, epochs: 40, patience: 2, learningRate: 0.3 });
  const best = Math.min(...r.history.map((h) => h.valLoss!));
  t.equal(r.history.find((h) => h.epoch === r.bestEpoch)!.valLoss, best, 'bestEpoch has the lowest validation loss');
  t.ok(r.stoppedEarly, `stopped after ${r.history.length} epochs`);
  t.equal(r.history.length, r.bestEpoch + 2);
  t.end();
});

t.test('multivariate: two features in, one target out, with a variance head', (t) => {
  const n = 800;
  const a = new Float64Array(n);
  const b = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    b[i] = Math.sin((2 * Math.PI * i) / 16);
    // a follows b with a lag: b is informative about a's next value.
    a[i] = 5 + (i > 0 ? b[i - 1]! : 0) + 0.05 * Math.sin(i * 7.1);
  }
  const raw = { name: 'ab', columns: [a, b] };
  const norm = globalNormalization([raw], 2);
  const s = prepareSeries(raw, norm, [0]);
  t.equal(s.x.length, 2 * s.rows);
  t.equal(s.y.length, s.rows);
  const r = trainLstm([s], 2, 1, { ...small, logvar: true, epochs: 15 });
  t.equal(r.loss, 'gaussian-nll');
  t.ok(r.weights.logvarHead, 'has a variance head');
  t.equal(r.weights.inputSize, 2);
  t.equal(r.weights.head.b.length, 1);
  const first = r.history[0]!.valLoss!;
  const best = Math.min(...r.history.map((h) => h.valLoss!));
  t.ok(best < first - 0.5, `NLL falls: ${first.toFixed(3)} -> ${best.toFixed(3)}`);
  t.end();
});

t.test('prepared inputs and targets are what the engine will compute', (t) => {
  const raw = sine(30, 7, 2);
  const s = prepareSeries(raw, per, [0]);
  const stats = new Float64Array(3);
  const x = new Float32Array(1);
  for (let i = 0; i < s.rows; i++) {
    observe(per, stats, 0, [raw.columns[0]![i]!]);
    normalizeInto(per, stats, 0, [raw.columns[0]![i]!], x, 0);
    t.equal(s.x[i], x[0], `x at ${i}`);
    const target = (raw.columns[0]![i + 1]! - featureMean(per, stats, 0, 0)) / featureStd(per, stats, 0, 1, 0);
    t.ok(Math.abs(s.y[i]! - Math.max(-10, Math.min(10, target))) < 1e-12, `y at ${i}`);
  }
  t.end();
});

t.test('windows: chronological validation at the end of each series, interleaved when too short', (t) => {
  const mk = (rows: number) => ({ name: 's', rows, x: new Float64Array(rows), y: new Float64Array(rows) });
  const w = splitWindows([mk(100), mk(200)], 10, 5, 0.2);
  t.equal(w.valRule, 'chronological');
  for (let i = 0; i < w.train.length; i += 2) t.ok(w.train[i + 1]! + 10 <= (w.train[i] === 0 ? 80 : 160), 'train window before the split');
  for (let i = 0; i < w.val.length; i += 2) t.ok(w.val[i + 1]! >= (w.val[i] === 0 ? 80 : 160), 'validation window after the split');
  const short = splitWindows([mk(40)], 10, 2, 0.2);
  t.equal(short.valRule, 'interleaved');
  t.ok(short.val.length > 0);
  t.equal(splitWindows([mk(40)], 10, 2, 0).valRule, 'none');
  t.end();
});

t.test('too little data for one window is an error naming the series', (t) => {
  t.throws(() => trainLstm([prepareSeries(sine(20, 5), per, [0])], 1, 1, small), { code: 'E_CSV', message: /too few rows for one training window of 24 steps/ });
  t.end();
});

t.test('gradient clipping and Adam', (t) => {
  const g = Float64Array.from([3, 4]);
  t.equal(clipGradNorm(g, 1), 5);
  t.ok(Math.abs(Math.hypot(g[0]!, g[1]!) - 1) < 1e-5);
  const h = Float64Array.from([0.3, 0.4]);
  clipGradNorm(h, 1);
  t.same(Array.from(h), [0.3, 0.4], 'small gradients untouched');
  // Adam's first step moves every parameter by lr against its gradient's sign.
  const p = Float64Array.from([1, 1]);
  new Adam(2).step(p, Float64Array.from([0.5, -2]), 0.1);
  t.ok(Math.abs(p[0]! - 0.9) < 1e-6 && Math.abs(p[1]! - 1.1) < 1e-6, `${p[0]}, ${p[1]}`);
  t.end();
});
