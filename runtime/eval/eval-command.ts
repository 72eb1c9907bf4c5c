/**
 * `edgelstm eval nab --data DIR [--labels FILE] [--files LIST] [--report FILE]
 * [--detector NAME] [--scores DIR] [--threshold X] [--concurrency N]
 * [--reveal-range] [--detector-options JSON] [--json FILE]`: streams the NAB corpus
 * through a detector, prints the three profile scores at NAB's chosen
 * thresholds and the forecast accuracy table, and optionally writes an HTML
 * report and a JSON summary.
 */
import { writeFileSync } from 'node:fs';
import type { OptionSpecs } from '../cli/args';
import { defineCommand } from '../cli/command';
import { EdgeLstmError } from '../errors';
import type { Detector } from './detector';
import { DETECTORS } from './detectors';
import { forecastFileText, forecastGroupText, scoreText } from './eval-text';
import { groupForecastAccuracy } from './forecast-metrics';
import { runCorpus } from './harness';
import { readWindowLabels } from './labels';
import { listNabFiles, loadNabFile, readProfiles, resolveNabPaths, selectFiles } from './nab-corpus';
import { evaluateFlags, evaluateNab } from './nab-evaluation';
import { nabHalf } from './nab-halves';
import { renderReport } from './report';

const SPECS = {
  data: { type: 'string', placeholder: 'dir', description: 'NAB dataset root (holding data/ and labels/) or its data/ folder (required)' },
  labels: { type: 'string', placeholder: 'file', description: 'window labels (default: labels/combined_windows.json beside data/)' },
  files: { type: 'list', placeholder: 'globs', description: 'only these files: keys, globs or names, comma-separated (e.g. "realKnownCause/*,art_daily_jumpsup.csv")' },
  report: { type: 'string', placeholder: 'file.html', description: 'write a self-contained HTML report' },
  detector: { type: 'string', default: 'lstm', choices: Object.keys(DETECTORS), description: 'the detector to run (lstm: the product; persistence, zscore: the same engine and scoring with a naive forecaster)' },
  scores: { type: 'string', placeholder: 'dir', description: 'for --detector stored: folder of stored NAB outputs (e.g. reference_outputs/numenta)' },
  model: { type: 'string', placeholder: 'file.onnx', description: 'for --detector lstm: the model (default: the shipped generic model)' },
  'detector-options': { type: 'string', placeholder: 'json', description: 'engine options for an ablation, as a config file gives them, e.g. \'{"scoring":{"noveltyMargin":-1}}\' (runtime/engine/options.ts)' },
  threshold: { type: 'number', min: 0, max: 1, placeholder: 'score', description: "score every profile at this fixed threshold instead of NAB's sweep (e.g. to check a published number)" },
  concurrency: { type: 'number', integer: true, min: 1, max: 256, default: 1, description: 'files streamed at once, each through its own detector (same parameters); for batching engines' },
  'reveal-range': { type: 'boolean', default: false, description: "tell the detector each file's min and max up front (NAB allows this; off: no look-ahead at all)" },
  json: { type: 'string', placeholder: 'file.json', description: 'write the scores and forecast figures as JSON' },
  quiet: { type: 'boolean', default: false, description: 'print only the score table' },
} as const satisfies OptionSpecs;

const USAGE = 'edgelstm eval nab --data DIR [options]';

function write(s: string): void {
  process.stdout.write(`${s}\n`);
}

function parseDetectorOptions(json: string | undefined): Record<string, unknown> | undefined {
  if (json === undefined) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch (e) {
    throw new EdgeLstmError('E_CONFIG', `--detector-options: not JSON: ${(e as Error).message}`, { field: 'detector-options', expected: 'a JSON object', found: json });
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new EdgeLstmError('E_CONFIG', '--detector-options: expected a JSON object', { field: 'detector-options', expected: 'a JSON object', found: json });
  return v as Record<string, unknown>;
}

export const main = defineCommand({ usage: USAGE, options: SPECS, positionals: ['BENCHMARK'], epilog: 'Benchmarks: nab' }, async (o, [suite]) => {
  if (suite !== 'nab') throw new EdgeLstmError('E_CONFIG', `unknown benchmark "${suite}" (expected: nab)`, { field: 'benchmark', expected: 'nab', found: String(suite) });
  // Checked here, not by the parser: an unknown benchmark is named before a missing --data.
  if (o.data === undefined) throw new EdgeLstmError('E_CONFIG', 'option --data: expected dir, found nothing', { field: 'data', expected: 'dir', found: 'nothing' });
  const paths = resolveNabPaths(o.data, o.labels);
  const labels = readWindowLabels(paths.labelsFile);
  const profiles = readProfiles(paths.profilesFile);
  const keys = selectFiles(listNabFiles(paths.dataDir), o.files);
  if (keys.length === 0) throw new EdgeLstmError('E_CONFIG', `--data: no <category>/<name>.csv files under ${paths.dataDir}`, { field: 'data', found: paths.dataDir });
  const spec = DETECTORS[o.detector]!;
  const settings = { scoresDir: o.scores, modelPath: o.model, options: parseDetectorOptions(o['detector-options']) };
  // The first detector is made now, so a bad setting fails before any file is read; more lanes get fresh ones.
  let first: Detector | undefined = await spec.create(settings);
  const detector = first;
  const factory = async (): Promise<Detector> => {
    const d = first ?? (await spec.create(settings));
    first = undefined;
    return d;
  };

  const t0 = performance.now();
  let done = 0;
  const runs = await runCorpus(factory, keys, (k) => loadNabFile(paths, labels, k), {
    concurrency: o.concurrency,
    revealRange: o['reveal-range'],
    // Progress only on a terminal: a slow detector takes minutes, and logs should stay clean.
    onFile: process.stderr.isTTY ? (r) => process.stderr.write(`\r${++done}/${keys.length} ${r.file.key}\x1b[K`) : undefined,
  });
  if (process.stderr.isTTY) process.stderr.write('\r\x1b[K');
  const elapsedMs = performance.now() - t0;
  const outcomes = evaluateNab(runs, profiles, o.threshold);
  const flagOutcomes = evaluateFlags(runs, profiles);
  const fileAccuracy = runs.map((r) => r.forecastAccuracy);
  const groups = groupForecastAccuracy(fileAccuracy);
  const rows = runs.reduce((s, r) => s + r.scores.length, 0);

  write(`NAB: detector ${detector.name}, ${runs.length} files, ${rows} rows, ${outcomes[0]?.score.windows ?? 0} windows, ${(elapsedMs / 1000).toFixed(1)} s${o['reveal-range'] ? ' (file min/max revealed up front, as NAB allows)' : ''}`);
  if (settings.options !== undefined) write(`detector options (overriding the defaults): ${JSON.stringify(settings.options)}`);
  if (runs.length < 58) write('(a subset: scores are normalised over its windows only, not comparable with the 58-file scoreboard)');
  write(o.threshold === undefined ? "\nThresholds chosen NAB's way (per profile, the one that maximises the score over all files):" : `\nAt the fixed threshold ${o.threshold}:`);
  write(scoreText(outcomes));
  if (flagOutcomes !== undefined) {
    write("\nThe detector's own flag (the result's `anomaly`, the default operating point), as it is:");
    write(scoreText(flagOutcomes));
  }
  if (runs.length === 58 && o.threshold === undefined) {
    write('\nBy half (runtime/eval/PROTOCOL.md; each normalised over its own windows), standard profile, likelihood swept / flag:');
    for (const half of ['tuning', 'held-out'] as const) {
      const part = runs.filter((r) => nabHalf(keys, r.file.key) === half);
      const std = (xs: ReturnType<typeof evaluateNab> | undefined): string => (xs === undefined ? 'n/a' : xs[0]!.score.normalized.toFixed(2));
      write(`${half.padEnd(9)}  ${String(part.length).padStart(2)} files  ${std(evaluateNab(part, profiles))} / ${std(evaluateFlags(part, profiles))}`);
    }
  }
  const beats = fileAccuracy.filter((f) => f.methods.detector?.mase !== undefined && f.methods.persistence?.mase !== undefined);
  if (beats.length > 0) {
    const wins = beats.filter((f) => f.methods.detector!.mase! < f.methods.persistence!.mase!).length;
    write(`\nOne-step MASE below persistence's on ${wins} of ${beats.length} files (${((100 * wins) / beats.length).toFixed(0)}%)`);
  }
  if (!o.quiet) {
    write('\nForecast accuracy, one step ahead, rows past the probationary period (MASE scale: in-sample naive MAE):');
    write(forecastGroupText(groups));
    write('');
    write(forecastFileText(fileAccuracy));
  }
  if (o.report !== undefined) {
    writeFileSync(o.report, renderReport({ detector: detector.name, dataDir: paths.dataDir, runs, outcomes, forecastGroups: groups, elapsedMs, fixedThreshold: o.threshold }));
    write(`\nreport: ${o.report}`);
  }
  if (o.json !== undefined) {
    const summary = {
      detector: detector.name,
      detectorOptions: settings.options ?? null,
      files: keys,
      rows,
      elapsedMs,
      scores: outcomes.map((x) => ({ ...x.score, threshold: Number.isFinite(x.score.threshold) ? x.score.threshold : null, files: x.files })),
      flag: flagOutcomes?.map((x) => ({ ...x.score, files: x.files })) ?? null,
      forecast: { groups, files: fileAccuracy },
    };
    writeFileSync(o.json, `${JSON.stringify(summary, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`);
  }
  return 0;
});
