import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel } from '../../runtime/model/load-model';
import { buildGeneric } from '../../models/build/build-models';
import { GENERIC_RECIPE } from '../../models/toolchain/generic-recipe';
import { summarize } from '../../models/toolchain/forecast-check';
import { captureOutput } from '../helpers/capture';

t.test('the build pipeline (quick mode) writes a loadable model, its chart and card, reproducibly', async (t) => {
  const dir = t.testdir({ a: {}, b: {} });
  await captureOutput(async () => {
    await buildGeneric(join(dir, 'a'), true);
    await buildGeneric(join(dir, 'b'), true);
  });
  const model = await loadModel(join(dir, 'a', 'generic.onnx'));
  t.equal(model.id, 'generic@1.1.0');
  t.same(model.metadata.features, ['value']);
  t.same(model.metadata.normalization, GENERIC_RECIPE.normalization);
  t.same(model.dims, { F: 1, H: 32, L: 1, T: 1 });
  const tr = model.metadata.training as { data: { source: string; families: string[] } };
  t.match(tr.data.source, /synthetic/);
  t.notOk(tr.data.families.includes('daily-steps'), 'the recorded families are the corpus\'s: daily-steps only when the recipe asks for it');
  t.ok(tr.data.families.length > 0);
  await model.release();
  t.ok(existsSync(join(dir, 'a', 'generic.loss.html')));
  const int8 = await loadModel(join(dir, 'a', 'generic-int8.onnx'));
  t.equal(int8.metadata.quantization.scheme, 'int8-weight', 'the int8 variant is written beside the fp32 model');
  t.ok(readFileSync(join(dir, 'a', 'generic-int8.onnx')).length * 2.5 < readFileSync(join(dir, 'a', 'generic.onnx')).length, 'and is much smaller');
  await int8.release();
  const card = readFileSync(join(dir, 'a', 'README.md'), 'utf8');
  t.match(card, /## Held-out metrics/);
  t.match(card, /RMSE\(model\) \/ RMSE\(persistence\) \| \d/);
  t.match(card, /## int8 variant/);
  // Same recipe, same weights: only the recorded duration may differ between two builds. Its digits change
  // the lengths protobuf writes before the training entry and its value, so those two varints go too.
  const strip = (p: string): string =>
    readFileSync(p)
      .toString('latin1')
      .replace(/"durationSeconds":[\d.]+/, '')
      .replace(/r[\x80-\xff]*[\x00-\x7f]\n\x11edgelstm\.training\x12[\x80-\xff]*[\x00-\x7f]/, 'edgelstm.training');
  t.equal(strip(join(dir, 'a', 'generic.onnx')), strip(join(dir, 'b', 'generic.onnx')));
  t.equal(strip(join(dir, 'a', 'generic-int8.onnx')), strip(join(dir, 'b', 'generic-int8.onnx')));
});

const shipped = join(__dirname, '..', '..', 'models', 'generic', 'generic.onnx');
t.test('the shipped generic model is the recipe\'s', { skip: existsSync(shipped) ? false : 'models/generic/generic.onnx not built yet' }, async (t) => {
  const file = shipped;
  const model = await loadModel(file);
  t.equal(model.id, `${GENERIC_RECIPE.name}@${GENERIC_RECIPE.version}`);
  t.same(model.metadata.normalization, GENERIC_RECIPE.normalization);
  t.equal(model.metadata.quantization.scheme, 'none');
  t.notOk(model.hasLogvar);
  await model.release();
  const int8 = await loadModel(join(__dirname, '..', '..', 'models', 'generic', 'generic-int8.onnx'));
  t.equal(int8.id, model.id, 'the shipped int8 variant is the same model');
  t.equal(int8.metadata.quantization.scheme, 'int8-weight');
  await int8.release();
});

t.test('forecast summary: ratios against persistence, flat series left out of the ratios', (t) => {
  const s = (name: string, rmse: number, p: number) => ({ name, steps: 10, rmse, mae: rmse, persistenceRmse: p, persistenceMae: p });
  const sum = summarize([s('a', 1, 2), s('b', 3, 2), s('c', 1, 4), s('flat', 0, 0)]);
  t.equal(sum.series, 4);
  t.equal(sum.medianRmseRatio, 0.5);
  t.equal(sum.meanMaeRatio, (0.5 + 1.5 + 0.25) / 3);
  t.equal(sum.shareBetter, 2 / 3);
  t.end();
});
