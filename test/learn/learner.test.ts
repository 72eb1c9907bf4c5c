// A fine-tune that fails keeps the model running and is counted; the worker is a real thread.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { LEARN_DEFAULTS } from '../../runtime/learn/learn-options';
import { Learner } from '../../runtime/learn/learner';
import { loadModel } from '../../runtime/model/load-model';
import { makeTestModel, tempDir, testMetadata } from '../helpers/models';
import { randomWeights } from '../../runtime/contract/weights';
import { buildLstmModel } from '../../runtime/onnx/lstm-graph';
import { encodeMetadata } from '../../runtime/model/metadata';
import { referenceForward } from '../../runtime/backend/reference-lstm';

const opts = { ...LEARN_DEFAULTS, window: 4, windows: 8, minWindows: 2, steps: 2, batchSize: 2, holdoutEvery: 0, cpuShare: 1, nice: 0 };

async function learnerWith(workerSource: string | undefined): Promise<{ l: Learner; release: () => Promise<void> }> {
  const m = await loadModel(makeTestModel({ hidden: 4, seed: 2 }).bytes);
  let file: string | undefined;
  if (workerSource !== undefined) {
    file = join(tempDir(), 'worker.js');
    writeFileSync(file, workerSource);
  }
  const l = new Learner(m, opts, file);
  for (let k = 0; k < 3; k++) l.collector.ring.push(k, Float64Array.from([0.1, 0.2, 0.3, 0.4]), Float64Array.from([0.2, 0.3, 0.4, 0.5]));
  return { l, release: () => m.release() };
}

const FAILURES: [string, string, RegExp][] = [
  ['throws while loading', "throw new Error('no such module');", /fine-tune worker failed: no such module/],
  ['exits mid-job', "require('node:worker_threads').parentPort.on('message', () => process.exit(3));", /exited with code 3/],
  ['answers with an error', "const { parentPort } = require('node:worker_threads'); parentPort.on('message', () => parentPort.postMessage({ ok: false, error: 'out of budget' }));", /out of budget/],
  [
    'answers with bytes that are no model',
    "const { parentPort } = require('node:worker_threads'); parentPort.on('message', (r) => parentPort.postMessage({ ok: true, bytes: new Uint8Array([1, 2, 3]), outcome: { round: r.job.round, params: r.job.params, before: 1, after: 0.5, better: true, trainWindows: 3, heldOutWindows: 0 } }));",
    /not a valid ONNX file/,
  ],
];

t.test('a failing worker: counted as failed, nothing to swap, the running model stays; the next round gets a fresh worker', async (t) => {
  for (const [name, source, message] of FAILURES) {
    const { l, release } = await learnerWith(source);
    const events: string[] = [];
    l.onEvent = (e) => events.push(`${e.outcome} ${e.model} ${e.error ?? ''}`);
    await l.round();
    t.same({ failed: l.counters.failed, swapped: l.counters.swapped }, { failed: 1, swapped: 0 }, name);
    t.equal(l.takeReady(), undefined, `${name}: nothing replaces the running model`);
    t.match(events[0], /^failed test@1\.0\.0 /);
    t.match(events[0], message, name);
    if (name === 'exits mid-job') {
      await l.round();
      t.same({ rounds: l.counters.rounds, failed: l.counters.failed }, { rounds: 2, failed: 2 }, 'a dead worker is replaced for the next round');
    }
    await l.close();
    await release();
  }
});

t.test('the real worker: a model of the same architecture, named after the base, handed over once', async (t) => {
  const { l, release } = await learnerWith(undefined);
  await l.round();
  t.same(l.counters, { rounds: 1, swapped: 1, rejected: 0, failed: 0, skipped: 0 });
  const m = l.takeReady();
  t.equal(m?.id, 'test@1.0.0+ft1');
  t.same(m?.dims, { F: 1, H: 4, L: 1, T: 1 });
  t.equal(l.takeReady(), undefined);
  l.collector.ring.clear();
  await l.round();
  t.equal(l.counters.skipped, 1, 'too few windows: skipped');
  await m?.release();
  await l.close();
  await release();
});

t.test('a residual model fine-tunes as one: the learned model keeps the skip in its graph', async (t) => {
  const weights = { ...randomWeights(1, 4, 1, 1, 2), residual: [0] };
  const base = await loadModel(buildLstmModel(weights, { metadata: encodeMetadata(testMetadata({ hidden: 4 }, weights)) }));
  const l = new Learner(base, opts);
  for (let k = 0; k < 3; k++) l.collector.ring.push(k, Float64Array.from([0.1, 0.2, 0.3, 0.4]), Float64Array.from([0.2, 0.3, 0.4, 0.5]));
  await l.round();
  const m = l.takeReady();
  t.ok(m, 'a fine-tuned model');
  const w = m!.weights!();
  t.same(w.residual, [0], 'the skip is read back from the learned graph');
  const x = Float32Array.from([0.5, -1, 2, 0.25]);
  const out = await m!.backend.run(x, new Float32Array(4), new Float32Array(4), 4, 1);
  const ref = referenceForward(w, x, new Float32Array(4), new Float32Array(4), 4, 1);
  t.ok(Math.max(...Array.from(out.y, (v, i) => Math.abs(v - ref.y[i]!))) < 1e-5, 'the learned graph computes x + head(h)');
  await m!.release();
  await l.close();
  await base.release();
});
