/**
 * The fast loop the detector's defaults were tuned with: `npm run
 * bench:tune-detector -- [--half tuning|held-out|all] [--model FILE] [JSON options ...]`
 * (`--model`: another model than the shipped generic one, its forecasts cached apart).
 * The forecasts of every NAB file are computed once through the engine and
 * cached (they do not depend on the scoring: the normalization is the
 * model's), then each option set is scored by the engine's own scoring
 * function (runtime/engine/scoring/device-scorer.ts, the very code
 * step-batch runs) in well under a second per set. Final figures come from
 * `edgelstm eval nab`, never from here.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { auxLayout } from '../runtime/engine/aux-layout';
import { featureStd } from '../runtime/model/normalizer';
import { Engine } from '../runtime/engine/engine';
import { resolveEngineOptions, type EngineOptions } from '../runtime/engine/options';
import { ReadingScore, scoreReading, scoringWidth } from '../runtime/engine/scoring/device-scorer';
import { calibrate, CALIBRATION_WIDTH, learnCalibration } from '../runtime/engine/forecast-calibration';
import { defaultModelPath } from '../runtime/model/default-model';
import { loadModel, type Model } from '../runtime/model/load-model';
import { controlModel } from '../runtime/eval/control-models';
import { listNabFiles, loadNabFile, readProfiles, resolveNabPaths } from '../runtime/eval/nab-corpus';
import { readWindowLabels } from '../runtime/eval/labels';
import { nabHalf } from '../runtime/eval/nab-halves';
import { fileSweep } from '../runtime/eval/sweep-values';
import { optimizeThreshold, poolRows, scoreAtThreshold, type ScoredFile } from '../runtime/eval/nab-scorer';

const args = process.argv.slice(2);
const flag = (name: string, def: string): string => {
  const i = args.indexOf(name);
  return i >= 0 ? args.splice(i, 2)[1]! : def;
};
const half = flag('--half', 'tuning');
const forecaster = flag('--forecaster', 'lstm');
const modelFile = flag('--model', '');
const dataDir = flag('--data', process.env['EDGELSTM_NAB_DIR'] ?? '../shared/datasets/nab');
const cacheDir = flag('--cache', '/tmp/edgelstm-nab-forecasts');
const detailAt = args.indexOf('--detail');
// --detail: per file, at the standard profile's best threshold: each window's earliest detection (its sweep value) or a miss, and the false-alarm rows.
const detail = detailAt >= 0 ? (args.splice(detailAt, 1), true) : false;

async function main(): Promise<void> {
  const paths = resolveNabPaths(dataDir);
  const labels = readWindowLabels(paths.labelsFile);
  const profiles = readProfiles(paths.profilesFile);
  const all = listNabFiles(paths.dataDir);
  const keys = all.filter((k) => half === 'all' || nabHalf(all, k) === half);
  mkdirSync(cacheDir, { recursive: true });
  let model: Model | undefined;
  const files = [];
  for (const k of keys) {
    const file = loadNabFile(paths, labels, k);
    const tag = modelFile === '' ? forecaster : `${forecaster}-${basename(modelFile, '.onnx')}`;
    const cache = join(cacheDir, `${tag}-${k.replace('/', '__')}.json`);
    const sigmaCache = join(cacheDir, `${tag}-sigma-${k.replace('/', '__')}.json`);
    let expected: number[];
    let sigma: number[] | null = null;
    if (existsSync(cache)) {
      expected = JSON.parse(readFileSync(cache, 'utf8')) as number[];
      if (existsSync(sigmaCache)) sigma = JSON.parse(readFileSync(sigmaCache, 'utf8')) as number[];
    } else {
      model ??= forecaster === 'lstm' ? await loadModel(modelFile === '' ? defaultModelPath() : modelFile) : controlModel(forecaster as 'persistence' | 'mean');
      // Raw forecasts: the recalibration depends on the scoring (what it learns from), so it is replayed below.
      const engine = new Engine(model, { maxDelayMs: 0, scoring: { calibrationWindow: 0 } });
      const A = auxLayout(model.metadata.normalization, 1, 1);
      expected = [];
      // With a variance head: the predicted standard deviation the engine scores the next reading with.
      const sig: number[] = [NaN];
      const { timestamps, values } = file.series;
      for (let i = 0; i < values.length; i++) {
        const r = await engine.push({ device: 'd', ts: timestamps[i]!, values: [values[i]!] });
        expected.push(r.expected === null ? NaN : r.expected[0]!);
        if (model.hasLogvar) {
          const row = engine.store.slotOf('d') * A.width;
          const aux = engine.store.aux;
          sig.push(featureStd(model.metadata.normalization, aux, row + A.norm, 1, 0) * Math.exp(0.5 * aux[row + A.logvar]!));
        }
      }
      await engine.close();
      writeFileSync(cache, JSON.stringify(expected.map((x) => (Number.isNaN(x) ? null : x))));
      if (model.hasLogvar) {
        sigma = sig.slice(0, values.length);
        writeFileSync(sigmaCache, JSON.stringify(sigma.map((x) => (Number.isNaN(x) ? null : x))));
      }
    }
    files.push({ file, expected: expected.map((x) => (x === null ? NaN : x)), sigma: sigma === null ? null : sigma.map((x) => (x === null ? NaN : x)) });
  }
  const sets: EngineOptions[] = args.length > 0 ? args.map((a) => JSON.parse(a) as EngineOptions) : [{}];
  for (const set of sets) {
    const o = resolveEngineOptions(set);
    const scored: ScoredFile[] = [];
    const flagged: ScoredFile[] = [];
    const out = new ReadingScore();
    const rec = new Float64Array(scoringWidth(1));
    const exp = new Float64Array(1);
    const tIdx = [0];
    const sg = new Float64Array(1);
    // One-step forecast accuracy on the rows NAB scores (past its probationary period): files where the
    // scored forecast's mean absolute error is below persistence's (MASE below persistence's, same scale).
    let maseWins = 0;
    let maseFiles = 0;
    for (const { file, expected, sigma } of files) {
      rec.fill(0);
      const n = file.series.values.length;
      const lik = new Float64Array(n);
      const fl = new Float64Array(n);
      const fc = new Float64Array(n).fill(NaN);
      const vals = new Float64Array(1);
      // The cache holds the model's raw forecasts; the engine's per-device recalibration is replayed here as step-batch runs it.
      const cal = new Float64Array(CALIBRATION_WIDTH);
      const cw = o.scoring.calibrationWindow;
      for (let i = 0; i < n; i++) {
        vals[0] = file.series.values[i]!;
        if (i > 0) fc[i] = exp[0] = calibrate(cw, cal, 0, file.series.values[i - 1]!, expected[i]!);
        scoreReading(o.scoring, o.threshold, rec, 0, 1, { values: vals, targetIndex: tIdx, expected: i > 0 ? exp : null, expectedOff: 0, sigma: sigma !== null && i > 0 ? ((sg[0] = sigma[i]!), sg) : null, sigmaOff: 0, ts: file.series.timestamps[i]!, steps: i, warmup: o.warmup, warmupMs: o.warmupMs }, out);
        if (i > 0 && !out.anomaly) learnCalibration(cw, cal, 0, vals[0]);
        lik[i] = Number.isNaN(out.likelihood) ? 0 : out.likelihood;
        fl[i] = out.anomaly ? 1 : 0;
      }
      const sweep = fileSweep(n, file.windows);
      let errDet = 0;
      let errPers = 0;
      for (let i = Math.max(1, sweep.probation); i < n; i++) {
        if (Number.isNaN(fc[i]!)) continue;
        errDet += Math.abs(file.series.values[i]! - fc[i]!);
        errPers += Math.abs(file.series.values[i]! - file.series.values[i - 1]!);
      }
      if (errPers > 0) {
        maseFiles++;
        if (errDet < errPers) maseWins++;
      }
      scored.push({ name: file.key, sweep, scores: lik });
      flagged.push({ name: file.key, sweep, scores: fl });
    }
    const pooled = poolRows(scored);
    const cells = profiles.map((p) => {
      const a = optimizeThreshold(pooled, p);
      const b = scoreAtThreshold(flagged, p, 0.5);
      return `${p.name.replace('reward_low_', '')}: ${a.normalized.toFixed(2)} (${a.detectedWindows}w ${a.falseAlarmRows}fp @${(-Math.log10(1 - a.threshold)).toFixed(2)} nines) flag ${b.normalized.toFixed(2)} (${b.detectedWindows}w ${b.falseAlarmRows}fp)`;
    });
    process.stdout.write(`${JSON.stringify(set)}\n  ${cells.join('\n  ')}\n  one-step MAE below persistence's on ${maseWins} of ${maseFiles} files\n`);
    if (detail) {
      const th = optimizeThreshold(pooled, profiles.find((p) => p.name === 'standard') ?? profiles[0]!).threshold;
      for (const [k, f] of scored.entries()) {
        const fl = flagged[k]!;
        let flagFp = 0;
        let flagRuns = 0;
        for (let i = f.sweep.probation; i < f.sweep.rows; i++) {
          if (fl.scores[i]! < 0.5 || f.sweep.windowOf[i]! >= 0) continue;
          flagFp++;
          if (!(fl.scores[i - 1]! >= 0.5)) flagRuns++;
        }
        const { windowOf, unweighted, probation, rows } = f.sweep;
        const first = new Map<number, number>();
        let fp = 0;
        let fpNear = 0;
        let nWin = 0;
        for (let i = 0; i < rows; i++) nWin = Math.max(nWin, windowOf[i]! + 1);
        for (let i = probation; i < rows; i++) {
          if (!(f.scores[i]! >= th)) continue;
          const w = windowOf[i]!;
          if (w < 0) {
            fp++;
            if (unweighted[i]! > -0.5) fpNear++;
          } else if (!first.has(w)) first.set(w, unweighted[i]!);
        }
        const wins = Array.from({ length: nWin }, (_, w) => (first.has(w) ? first.get(w)!.toFixed(2) : 'MISS')).join(' ');
        process.stdout.write(`    ${f.name.padEnd(60)} windows [${wins}] fp ${fp} (${fpNear} soft) flag fp ${flagFp} in ${flagRuns} runs\n`);
      }
    }
  }
  await model?.release();
}

void main();
