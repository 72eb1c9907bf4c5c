import t from 'tap';
import { resolveEngineOptions } from '../../runtime/engine/options';
import { LEARN_DEFAULTS, resolveLearnOptions } from '../../runtime/learn/learn-options';

t.test('off unless asked for; true means the defaults', async (t) => {
  t.equal(resolveLearnOptions(undefined), null);
  t.equal(resolveLearnOptions(false), null);
  t.same(resolveLearnOptions(true), LEARN_DEFAULTS);
  t.equal(resolveEngineOptions({}).learn, null, 'the engine does not learn by default');
  t.same(resolveEngineOptions({ learn: { every: 50 } }).learn, { ...LEARN_DEFAULTS, every: 50 });
});

t.test('a bad value is E_CONFIG naming learn.<option>', async (t) => {
  const bad: [unknown, RegExp][] = [
    [{ every: 0 }, /learn\.every/],
    [{ window: 1.5 }, /learn\.window/],
    [{ learningRate: 0 }, /learn\.learningRate/],
    [{ cpuShare: 2 }, /learn\.cpuShare/],
    [{ deterministic: 'yes' }, /learn\.deterministic/],
    [{ minWindows: 20, windows: 10 }, /learn\.minWindows/],
    [{ deterministic: true, intervalMs: 1000 }, /learn\.intervalMs/],
    [{ epochs: 3 }, /unknown option learn\.epochs/],
    ['on', /option learn must be/],
  ];
  for (const [v, re] of bad) {
    t.throws(() => resolveEngineOptions({ learn: v as never }), { code: 'E_CONFIG', message: re }, JSON.stringify(v));
  }
});
