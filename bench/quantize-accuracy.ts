/**
 * Accuracy of the int8 forms against fp32 on the shipped model:
 * `npm run bench:quantize-accuracy` (NAB from $EDGELSTM_NAB_DIR, default
 * ../shared/datasets/nab), or
 *
 *   node dist/bench/quantize-accuracy.js [--model FILE] [--nab DIR] [--files GLOBS]
 *       [--calibrate N] [--backend auto|native|wasm|reference]
 *
 * The forms are made in memory from the fp32 file: int8-weight
 * (`edgelstm quantize`), int8-static (`--mode static`, scales from the
 * engine's bounds) and, with `--calibrate N`, int8-static calibrated on the
 * first N series of the training corpus (as `--calibration` would be).
 *
 * 1. Held-out series (GENERIC_RECIPE.heldOut, never trained on): one-step
 *    forecast RMSE per series, scored as `build:models` scores the model card
 *    (scoreForecasts, the engine's normalization, from step scoreFrom on),
 *    through onnxruntime-node. Per form: median RMSE, and the change against
 *    fp32 per series, median and worst.
 * 2. With a NAB folder: every file streamed through the engine exactly as
 *    `edgelstm eval nab --model FILE` does (EngineDetector, default options,
 *    one device per file). Per form: NAB standard score (threshold swept, and
 *    the engine's own flag), and the one-step forecast RMSE per file on the
 *    rows eval nab scores its MAE on (past the probationary period), its
 *    change against fp32, median and worst, and the MAE change beside it.
 *
 * The full run takes about 3 to 4 minutes on a 2-core machine (NAB: 58 files
 * per form). Never part of `npm test`.
 */
import { existsSync, readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { EngineDetector } from '../runtime/eval/engine-detector';
import { runCorpus, type FileRun } from '../runtime/eval/harness';
import { readWindowLabels } from '../runtime/eval/labels';
import { listNabFiles, loadNabFile, readProfiles, resolveNabPaths, selectFiles } from '../runtime/eval/nab-corpus';
import { evaluateFlags, evaluateNab } from '../runtime/eval/nab-evaluation';
import { loadModel, type LoadModelOptions } from '../runtime/model/load-model';
import { defaultModelPath } from '../runtime/model/default-model';
import { parseMetadata } from '../runtime/model/metadata';
import { decodeOnnxFile } from '../runtime/onnx/decode';
import { extractLstmWeights } from '../runtime/onnx/extract-weights';
import { quantizeModel } from '../models/quantize/quantize-model';
import { scoreForecasts } from '../models/toolchain/forecast-check';
import { GENERIC_RECIPE as recipe } from '../models/toolchain/generic-recipe';
import { syntheticCorpus } from '../models/toolchain/signals';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
}

const modelPath = arg('--model') ?? defaultModelPath();
const nabDir = arg('--nab');
const files = arg('--files')?.split(',');
const calibrate = arg('--calibrate') !== undefined ? Number(arg('--calibrate')) : 0;
if (!(Number.isInteger(calibrate) && calibrate >= 0)) throw new Error(`--calibrate: expected a number of training series, found ${arg('--calibrate')}`);
const backend = (arg('--backend') ?? 'auto') as NonNullable<LoadModelOptions['backend']>;

const fp32 = readFileSync(modelPath);
const forms: Array<[string, Uint8Array]> = [
  ['fp32', fp32],
  ['int8-weight', quantizeModel(fp32, { file: modelPath })],
  ['int8-static', quantizeModel(fp32, { mode: 'static', file: modelPath })],
];
if (calibrate > 0) {
  const train = syntheticCorpus(recipe.train.seed, calibrate, recipe.train.length).map((s) => ({ name: s.name, columns: [s.values] }));
  forms.push([`int8-static cal${calibrate}`, quantizeModel(fp32, { mode: 'static', file: modelPath, calibration: { series: train, source: `${calibrate} training series` } })]);
}

const median = (xs: readonly number[]): number => {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
/** Per-item relative change of b against a: median, worst (largest magnitude, signed), and how many beyond 1%. */
function change(a: readonly number[], b: readonly number[]): { median: number; worst: number; beyond1: number; n: number } {
  const d = a.map((v, i) => (v > 0 ? b[i]! / v - 1 : NaN)).filter(Number.isFinite);
  return { median: median(d), worst: d.reduce((w, v) => (Math.abs(v) > Math.abs(w) ? v : w), 0), beyond1: d.filter((v) => Math.abs(v) > 0.01).length, n: d.length };
}
const pct = (v: number, digits = 3): string => `${v >= 0 ? '+' : ''}${(100 * v).toFixed(digits)}%`;

/** One-step RMSE of the engine's forecasts on the rows eval nab scores (past the probation, where it forecast). */
function nabRmse(run: FileRun): number {
  const { values } = run.file.series;
  let se = 0;
  let n = 0;
  for (let i = run.sweep.probation; i < values.length; i++) {
    const f = run.forecasts[i]!;
    if (!Number.isFinite(f)) continue;
    se += (values[i]! - f) ** 2;
    n++;
  }
  return n > 0 ? Math.sqrt(se / n) : NaN;
}

async function heldOut(): Promise<void> {
  const onnx = decodeOnnxFile(fp32, modelPath);
  const md = parseMetadata(onnx.metadata, undefined, modelPath);
  const w = extractLstmWeights(onnx, md.io, modelPath);
  const held = syntheticCorpus(recipe.heldOut.seed, recipe.heldOut.series, recipe.heldOut.length);
  const skip = Math.min(recipe.scoreFrom, recipe.heldOut.length / 4);
  const rmse = new Map<string, number[]>();
  for (const [name, bytes] of forms) {
    const s = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1 });
    const r: number[] = [];
    for (const h of held) r.push((await scoreForecasts(s, md.normalization, w.hiddenSize, w.layers.length, h.name, h.values, skip)).rmse);
    await s.release();
    rmse.set(name, r);
  }
  console.log(`\nHeld-out: ${held.length} series of GENERIC_RECIPE.heldOut (seed ${recipe.heldOut.seed}, ${recipe.heldOut.length} steps, scored from step ${skip}), onnxruntime-node, one-step forecast RMSE in raw units`);
  console.log('| form | file bytes | median RMSE | RMSE change vs fp32, median | worst series | series beyond 1% |');
  console.log('|---|---|---|---|---|---|');
  const base = rmse.get('fp32')!;
  for (const [name, bytes] of forms) {
    const r = rmse.get(name)!;
    const c = change(base, r);
    console.log(name === 'fp32' ? `| fp32 | ${bytes.length} | ${median(r).toFixed(4)} | - | - | - |` : `| ${name} | ${bytes.length} | ${median(r).toFixed(4)} | ${pct(c.median)} | ${pct(c.worst, 2)} | ${c.beyond1} of ${c.n} |`);
  }
}

async function nab(dir: string): Promise<void> {
  const paths = resolveNabPaths(dir);
  const labels = readWindowLabels(paths.labelsFile);
  const profiles = readProfiles(paths.profilesFile);
  const keys = selectFiles(listNabFiles(paths.dataDir), files);
  const results: Array<{ name: string; runs: FileRun[]; backend: string; seconds: number }> = [];
  for (const [name, bytes] of forms) {
    const t0 = performance.now();
    const model = await loadModel(bytes, { name: `${name}.onnx`, backend });
    const kind = model.backendChoice.kind;
    const runs = await runCorpus(new EngineDetector('edgelstm-lstm', model, {}), keys, (k) => loadNabFile(paths, labels, k));
    results.push({ name, runs, backend: kind, seconds: (performance.now() - t0) / 1000 });
    process.stderr.write(`NAB ${name}: ${keys.length} files in ${((performance.now() - t0) / 1000).toFixed(0)} s (${kind})\n`);
  }
  console.log(`\nNAB: ${keys.length} files through the engine (edgelstm eval nab --model FILE, default options), backend ${results.map((r) => `${r.name} ${r.backend}`).join(', ')}${keys.length < 58 ? ' (a subset: scores not comparable with the 58-file board)' : ''}`);
  console.log('| form | NAB standard, swept | flag | low FP, swept | low FN, swept | median RMSE per file | RMSE change vs fp32 per file, median | worst file | files beyond 1% | MAE change, median |');
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  const baseRmse = results[0]!.runs.map(nabRmse);
  const baseMae = results[0]!.runs.map((r) => r.forecastAccuracy.methods.detector?.mae ?? NaN);
  for (const { name, runs } of results) {
    const swept = evaluateNab(runs, profiles);
    const flag = evaluateFlags(runs, profiles);
    const score = (p: string, xs: typeof swept | undefined): string => xs?.find((x) => x.profile.name === p)?.score.normalized.toFixed(2) ?? 'n/a';
    const rmse = runs.map(nabRmse);
    const c = change(baseRmse, rmse);
    const mae = change(baseMae, runs.map((r) => r.forecastAccuracy.methods.detector?.mae ?? NaN));
    const head = `| ${name} | ${score('standard', swept)} | ${score('standard', flag)} | ${score('reward_low_FP_rate', swept)} | ${score('reward_low_FN_rate', swept)} | ${median(rmse).toPrecision(4)}`;
    console.log(name === 'fp32' ? `${head} | - | - | - | - |` : `${head} | ${pct(c.median)} | ${pct(c.worst, 2)} | ${c.beyond1} of ${c.n} | ${pct(mae.median)} |`);
  }
}

(async () => {
  console.log(`Model ${modelPath} (${fp32.length} bytes); forms: ${forms.map(([n, b]) => `${n} ${b.length} B`).join(', ')}`);
  await heldOut();
  if (nabDir !== undefined) {
    if (!existsSync(nabDir)) throw new Error(`--nab: ${nabDir} does not exist`);
    await nab(nabDir);
  } else {
    console.log('\n(NAB skipped: pass --nab DIR)');
  }
})().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
