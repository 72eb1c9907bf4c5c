import t from 'tap';
import { fineTune, type FineTuneJob } from '../../runtime/learn/fine-tune';
import { handle } from '../../runtime/learn/fine-tune-worker';
import { ParamLayout } from '../../runtime/learn/param-layout';
import { loadModel } from '../../runtime/model/load-model';
import { makeTestModel } from '../helpers/models';

function job(over: Partial<FineTuneJob> = {}): FineTuneJob {
  const shape = { inputSize: 1, hiddenSize: 8, layers: 1, outputs: 1, logvar: false };
  const W = 16;
  const count = 12;
  const x = new Float64Array(count * W);
  const y = new Float64Array(count * W);
  for (let i = 0; i < count * W; i++) {
    x[i] = Math.sin(i / 4);
    y[i] = Math.sin((i + 1) / 4);
  }
  return { round: 1, shape, params: new ParamLayout(shape).init(3), x, y, count, window: W, steps: 30, batchSize: 4, learningRate: 1e-2, clipNorm: 1, holdoutEvery: 4, seed: 7, ...over };
}

t.test('the same job gives the same parameters bit for bit; the round reseeds the sampling', async (t) => {
  const a = fineTune(job());
  const b = fineTune(job());
  t.same(Array.from(a.params), Array.from(b.params));
  const c = fineTune(job({ round: 2 }));
  t.not(Array.from(c.params).join(), Array.from(a.params).join());
  t.equal(a.heldOutWindows, 3);
  t.equal(a.trainWindows, 9);
});

t.test('it learns: the held-out loss falls, and the result says it is better', async (t) => {
  const o = fineTune(job());
  t.ok(o.after < o.before, `${o.after} < ${o.before}`);
  t.ok(o.better);
});

t.test('a diverging fine-tune is not better', async (t) => {
  const o = fineTune(job({ learningRate: 1, clipNorm: 0, x: new Float64Array(12 * 16).fill(1e6) }));
  t.notOk(o.better);
});

t.test('parameters round-trip through the runtime weights; the worker builds a model of the same architecture', async (t) => {
  const { weights, metadata } = makeTestModel({ hidden: 8, seed: 4 });
  const layout = new ParamLayout({ inputSize: 1, hiddenSize: 8, layers: 1, outputs: 1, logvar: false });
  const p = layout.fromWeights(weights);
  t.same(layout.toWeights(p), weights);
  t.throws(() => new ParamLayout({ inputSize: 2, hiddenSize: 8, layers: 1, outputs: 1, logvar: false }).fromWeights(weights), RangeError);
  const reply = handle({ job: job({ params: p }), metadata, cpuShare: 1 });
  t.ok(reply.ok);
  if (!reply.ok || reply.bytes === null) return;
  const m = await loadModel(reply.bytes, { sidecar: false });
  t.same(m.dims, { F: 1, H: 8, L: 1, T: 1 });
  t.same(Array.from(m.weights!().head.W), Array.from(layout.toWeights(reply.outcome.params).head.W));
  await m.release();
  const failed = handle({ job: job({ shape: { inputSize: 1, hiddenSize: -1, layers: 1, outputs: 1, logvar: false } }), metadata, cpuShare: 1 });
  t.notOk(failed.ok, 'a job that cannot run is an error reply, not a crash');
});
