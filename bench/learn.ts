/**
 * Continual learning, gain and cost: `npm run bench:learn`. In one run:
 *
 * 1. NAB: every file streamed through the library's Engine with `run`'s
 *    defaults, one device per file, learning off and on (deterministic
 *    mode, so the figures repeat). The anomaly score is the result's
 *    `likelihood`, what `run` publishes, scored NAB's way (threshold swept);
 *    forecast accuracy is the one-step MASE of the result's forecast.
 * 2. Cost: a fleet of devices at full rate through `submit`, learning off
 *    and on (the default, non-deterministic mode: the stream never waits).
 *    CPU per reading is the whole process's (the worker thread included),
 *    memory the RSS and the learner's own bytes.
 *
 * Options: --files GLOBS (NAB subset), --every N (learn.every), --more (also every N/4), --skip-nab, --quick.
 */
import { Engine } from '../runtime/engine/engine';
import type { EngineOptions } from '../runtime/engine/options';
import type { Result } from '../runtime/engine/sample';
import type { Detector, DetectorOutput, FileContext } from '../runtime/eval/detector';
import { runCorpus, type FileRun } from '../runtime/eval/harness';
import { readWindowLabels } from '../runtime/eval/labels';
import { listNabFiles, loadNabFile, readProfiles, resolveNabPaths, selectFiles } from '../runtime/eval/nab-corpus';
import { evaluateNab } from '../runtime/eval/nab-evaluation';
import type { LearnCounters } from '../runtime/learn/learner';
import { defaultModelPath } from '../runtime/model/default-model';
import { loadModel, type Model } from '../runtime/model/load-model';

const args = process.argv.slice(2);
const arg = (name: string): string | undefined => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const quick = args.includes('--quick');
const every = Number(arg('every') ?? 2000);

/** The engine as a NAB detector: one device per file, the result's likelihood as the score. */
class EngineDetector implements Detector {
  readonly name: string;
  readonly counters: LearnCounters = { rounds: 0, swapped: 0, rejected: 0, failed: 0, skipped: 0 };
  readonly #model: Model;
  readonly #options: EngineOptions;
  #engine: Engine | undefined;
  #file = 'file';

  constructor(model: Model, options: EngineOptions, name: string) {
    this.#model = model;
    this.#options = options;
    this.name = name;
  }

  async reset(context?: FileContext): Promise<void> {
    await this.#retire();
    this.#engine = new Engine(this.#model, this.#options);
    this.#file = context?.file ?? 'file';
  }

  async step(ts: number, value: number): Promise<DetectorOutput> {
    const r: Result = await this.#engine!.push({ device: this.#file, ts, values: [value] });
    return { score: r.likelihood ?? 0, forecast: r.forecast[0]! };
  }

  async #retire(): Promise<void> {
    const e = this.#engine;
    if (e === undefined) return;
    await e.close();
    const c = e.learnCounters;
    if (c) for (const k of Object.keys(this.counters) as (keyof LearnCounters)[]) this.counters[k] += c[k];
  }

  async close(): Promise<void> {
    await this.#retire();
  }
}

function median(a: number[]): number {
  const s = a.filter((x) => Number.isFinite(x)).sort((x, y) => x - y);
  return s.length === 0 ? NaN : s[Math.floor(s.length / 2)]!;
}

interface NabRow {
  setting: string;
  standard: number;
  lowFp: number;
  lowFn: number;
  maseMedian: number;
  maseWins: string;
  counters: LearnCounters | undefined;
  cpuS: number;
  wallS: number;
}

async function nab(model: Model): Promise<string[]> {
  const paths = resolveNabPaths(process.env['EDGELSTM_NAB_DIR'] ?? '../shared/datasets/nab');
  const labels = readWindowLabels(paths.labelsFile);
  const profiles = readProfiles(paths.profilesFile);
  const files = arg('files')?.split(',') ?? (quick ? ['realKnownCause/*'] : undefined);
  const keys = selectFiles(listNabFiles(paths.dataDir), files);
  // Deterministic mode: the stream waits for each fine-tune, so the worker's CPU budget changes only the time, not a result; full speed here.
  const learn = (n: number): EngineOptions => ({ learn: { deterministic: true, every: n, nice: 0, cpuShare: 1 } });
  const settings: [string, EngineOptions][] = [
    ['learning off (default)', {}],
    [`learn, every ${every}`, learn(every)],
    ...(args.includes('--more') ? [[`learn, every ${Math.max(1, every / 4)}`, learn(Math.max(1, every / 4))] as [string, EngineOptions]] : []),
  ];
  const rows: NabRow[] = [];
  let offMase: number[] = [];
  for (const [name, opts] of settings) {
    const detector = new EngineDetector(model, { maxDelayMs: 0, ...opts }, name);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const runs: FileRun[] = await runCorpus(detector, keys, (k) => loadNabFile(paths, labels, k));
    const cpu = process.cpuUsage(cpu0);
    const outcomes = evaluateNab(runs, profiles);
    const by = (p: string): number => outcomes.find((o) => o.profile.name === p)?.score.normalized ?? NaN;
    const mase = runs.map((r) => r.forecastAccuracy.methods.detector?.mase ?? NaN);
    if (offMase.length === 0) offMase = mase;
    const wins = mase.filter((m, i) => m < offMase[i]!).length;
    rows.push({
      setting: name, standard: by('standard'), lowFp: by('reward_low_FP_rate'), lowFn: by('reward_low_FN_rate'), maseMedian: median(mase),
      maseWins: opts.learn ? `${wins}/${runs.length}` : '-', counters: opts.learn ? detector.counters : undefined,
      cpuS: (cpu.user + cpu.system) / 1e6, wallS: (performance.now() - t0) / 1000,
    });
    process.stderr.write(`${name}: standard ${by('standard').toFixed(2)}\n`);
  }
  const f = (n: number, d = 2): string => (Number.isFinite(n) ? n.toFixed(d) : '-');
  return [
    `NAB, ${keys.length} files, shipped model ${model.id}, engine defaults of \`run\`, score = result likelihood (threshold swept NAB's way):`,
    '',
    '| setting | standard | low FP | low FN | one-step MASE, median | files with lower MASE than off | fine-tunes swapped / rejected / failed / skipped | CPU s | wall s |',
    '|---|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.setting} | ${f(r.standard)} | ${f(r.lowFp)} | ${f(r.lowFn)} | ${f(r.maseMedian, 3)} | ${r.maseWins} | ${r.counters ? `${r.counters.swapped} / ${r.counters.rejected} / ${r.counters.failed} / ${r.counters.skipped}` : '-'} | ${f(r.cpuS, 1)} | ${f(r.wallS, 1)} |`),
  ];
}

interface CostRow {
  setting: string;
  perSec: number;
  cpuUsPerReading: number;
  rssMb: number;
  learnBytes: number;
  stateBytes: number;
  counters: LearnCounters | undefined;
}

/** A fleet at full rate through submit, 1024 readings per event-loop turn (as a socket's data events hand them over). */
function fleetRound(engine: Engine, ids: string[], r: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let left = ids.length;
    const done = (err: Error | null): void => {
      if (err) reject(err);
      else if (--left === 0) resolve();
    };
    const produce = (from: number): void => {
      const to = Math.min(ids.length, from + 1024);
      for (let d = from; d < to; d++) {
        const bad = engine.submit({ device: ids[d]!, ts: r * 1000, values: [20 + 4 * Math.sin(r / 9 + d) + ((r * 7 + d) % 5) * 0.2] }, done);
        if (bad) reject(bad);
      }
      if (to < ids.length) setImmediate(produce, to);
    };
    produce(0);
  });
}

async function cost(model: Model): Promise<string[]> {
  const devices = quick ? 200 : 1000;
  const rounds = quick ? 200 : 600;
  const ids = Array.from({ length: devices }, (_, i) => `dev-${i}`);
  const rows: CostRow[] = [];
  for (const [name, opts] of [['learning off', {}], [`learn (defaults, every ${every})`, { learn: { every } }]] as [string, EngineOptions][]) {
    const engine = new Engine(model, { maxDelayMs: 0, ...opts });
    for (let r = 0; r < 110; r++) await fleetRound(engine, ids, r);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    let rss = 0;
    for (let r = 110; r < 110 + rounds; r++) {
      await fleetRound(engine, ids, r);
      if (r % 50 === 0) rss = Math.max(rss, process.memoryUsage().rss);
    }
    const cpu = process.cpuUsage(cpu0);
    const ms = performance.now() - t0;
    rows.push({
      setting: name, perSec: (devices * rounds) / (ms / 1000), cpuUsPerReading: (cpu.user + cpu.system) / (devices * rounds), rssMb: rss / 2 ** 20,
      learnBytes: engine.learnBytes, stateBytes: engine.store.bytesPerDevice(), counters: engine.learnCounters ? { ...engine.learnCounters } : undefined,
    });
    await engine.close();
  }
  const off = rows[0]!;
  return [
    `Cost: ${devices} devices x ${rounds} readings each after a 110-reading warm-up, shipped model, maxDelayMs 0, one process (the worker thread included in CPU):`,
    '',
    '| setting | readings/s | CPU us/reading | CPU vs off | peak RSS MB | learner bytes | state bytes/device | fine-tunes swapped / rejected / failed / skipped |',
    '|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.setting} | ${r.perSec.toFixed(0)} | ${r.cpuUsPerReading.toFixed(2)} | ${(r.cpuUsPerReading / off.cpuUsPerReading).toFixed(2)}x | ${r.rssMb.toFixed(0)} | ${r.learnBytes} | ${r.stateBytes} | ${r.counters ? `${r.counters.swapped} / ${r.counters.rejected} / ${r.counters.failed} / ${r.counters.skipped}` : '-'} |`),
  ];
}

async function main(): Promise<void> {
  const model = await loadModel(defaultModelPath());
  const out = [`edgelstm continual-learning benchmark: node ${process.version}, ${process.arch}`, ''];
  if (!args.includes('--skip-nab')) out.push(...(await nab(model)), '');
  out.push(...(await cost(model)));
  await model.release();
  process.stdout.write(`${out.join('\n')}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 1;
});
