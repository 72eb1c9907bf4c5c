import t from 'tap';
import { readWindowLabels } from '../../runtime/eval/labels';
import { listNabFiles, loadNabFile, readProfiles, resolveNabPaths, selectFiles } from '../../runtime/eval/nab-corpus';
import { runCorpus, runFile } from '../../runtime/eval/harness';
import { evaluateNab } from '../../runtime/eval/nab-evaluation';
import { EngineDetector } from '../../runtime/eval/engine-detector';
import { controlModel } from '../../runtime/eval/control-models';
import type { Detector, DetectorOutput, FileContext } from '../../runtime/eval/detector';
import { HAVE_NAB, NAB_DIR, NO_NAB, skipUnless } from './nab-dir';

const SUBSET = ['artificialWithAnomaly/art_daily_jumpsup.csv', 'realKnownCause/nyc_taxi.csv', 'realAWSCloudwatch/ec2_cpu_utilization_c6585a.csv'];

/** Records what it is shown, to check the harness's streaming rules; forecasts persistence. */
class Recorder implements Detector {
  readonly name = 'recorder';
  calls: string[] = [];
  seen: number[] = [];
  reset(c?: FileContext): void {
    this.calls.push(`reset ${c?.file}`);
    this.seen = [];
  }
  step(ts: number, value: number): DetectorOutput {
    this.seen.push(ts, value);
    return { score: 0.25, forecast: value };
  }
  close(): void {
    this.calls.push('close');
  }
}

t.test('harness on a 3-file subset', { skip: skipUnless(HAVE_NAB, NO_NAB) }, async (t) => {
  const paths = resolveNabPaths(NAB_DIR);
  const labels = readWindowLabels(paths.labelsFile);
  const keys = selectFiles(listNabFiles(paths.dataDir), SUBSET);
  t.same(keys, [...SUBSET].sort(), 'corpus order, not argument order');
  const load = (k: string) => loadNabFile(paths, labels, k);

  await t.test('rows in file order, reset per file, one detector, closed at the end', async (t) => {
    const d = new Recorder();
    const runs = await runCorpus(d, keys, load);
    t.same(d.calls, [...keys.map((k) => `reset ${k}`), 'close']);
    const last = runs[runs.length - 1]!.file.series;
    t.same(d.seen, Array.from(last.timestamps).flatMap((ts, i) => [ts, last.values[i]!]), 'every row once, in order, after the reset');
    for (const r of runs) {
      t.ok(Number.isNaN(r.forecasts[0]!), 'no forecast of the first row');
      t.equal(r.forecasts[1], r.file.series.values[0], 'forecast made at row 0 is stored against row 1');
      // A persistence "detector" must measure exactly as the persistence baseline.
      const f = r.forecastAccuracy.methods;
      t.equal(f.detector?.mae, f.persistence?.mae, `${r.file.key}: persistence detector == persistence baseline`);
    }
  });

  await t.test('baseline detector end to end, and an async detector gives the same result', async (t) => {
    const runs = await runCorpus(new EngineDetector('engine-zscore', controlModel('mean')), keys, load);
    const sync = evaluateNab(runs, readProfiles(paths.profilesFile));
    t.equal(sync.length, 3);
    const std = sync[0]!;
    t.equal(std.score.windows, 1 + 5 + 0, 'jumpsup 1, nyc_taxi 5, c6585a none');
    t.ok(Number.isFinite(std.score.normalized));
    t.ok((std.score.threshold > 0 && std.score.threshold <= 1) || std.score.threshold === Infinity, 'threshold is a score or none');
    const inner = new EngineDetector('engine-zscore', controlModel('mean'));
    const asyncDetector: Detector = {
      name: 'async',
      reset: async () => inner.reset(),
      step: async (ts, v) => ({ ...(await inner.step(ts, v)) }),
    };
    const runsAsync = await runCorpus(asyncDetector, keys, load);
    t.same(evaluateNab(runsAsync, readProfiles(paths.profilesFile)).map((o) => o.score), sync.map((o) => o.score));
    t.same(Array.from(runsAsync[1]!.scores), Array.from(runs[1]!.scores));
  });

  await t.test('concurrent lanes with a factory give the same runs, in key order; range only when asked', async (t) => {
    const seq = await runCorpus(new EngineDetector('engine-zscore', controlModel('mean')), keys, load);
    let made = 0;
    let overlapped = false;
    const contexts: (FileContext | undefined)[] = [];
    const par = await runCorpus(
      () => {
        const z = new EngineDetector('engine-zscore', controlModel('mean'));
        let inflight = false;
        const d: Detector = {
          name: 'lane',
          reset: (c) => {
            contexts.push(c);
            return z.reset();
          },
          // Resolve on a later turn so lanes really interleave; a second step before the first resolved would be look-ahead.
          step: (ts, v) => {
            if (inflight) overlapped = true;
            inflight = true;
            return new Promise((res) =>
              setImmediate(() => {
                void z.step(ts, v).then((o) => {
                  inflight = false;
                  res({ ...o });
                });
              }),
            );
          },
        };
        made++;
        return d;
      },
      keys,
      load,
      { concurrency: 3, revealRange: true },
    );
    t.equal(made, 3, 'one detector per lane');
    t.notOk(overlapped, 'a lane never shows the next row before the previous step resolved');
    t.same(par.map((r) => r.file.key), keys);
    t.same(par.map((r) => Array.from(r.scores)), seq.map((r) => Array.from(r.scores)), 'same scores as one file at a time');
    t.ok(contexts.every((c) => c !== undefined && typeof c.inputMin === 'number' && c.inputMax! >= c.inputMin), 'revealRange passes min and max');
    const plain = new Recorder();
    let ctx: FileContext | undefined;
    plain.reset = (c) => void (ctx = c);
    await runCorpus(plain, keys.slice(0, 1), load);
    t.same(ctx, { file: keys[0] }, 'by default nothing about the file but its name');
    await t.rejects(runCorpus(new Recorder(), keys, load, { concurrency: 2 }), TypeError);
    await t.rejects(runCorpus(new Recorder(), keys, load, { concurrency: 0 }), RangeError);
    t.same(await runCorpus(new Recorder(), [], load), []);
  });

  await t.test('a score outside [0, 1] is refused, naming detector, file and line', async (t) => {
    let n = 0;
    const bad: Detector = { name: 'bad', reset: () => undefined, step: () => ({ score: n++ === 10 ? 1.5 : 0 }) };
    await t.rejects(runFile(bad, load(keys[0]!)), { code: 'E_BAD_VALUE', message: /art_daily_jumpsup\.csv, line 12: detector bad returned anomaly score 1\.5/ });
    let closed = false;
    const nan: Detector = { name: 'nan', reset: () => undefined, step: () => ({ score: NaN }), close: () => void (closed = true) };
    await t.rejects(runCorpus(nan, keys, load), { code: 'E_BAD_VALUE' });
    t.ok(closed, 'closed even when a file fails');
    let closes = 0;
    let lanes = 0;
    const factory = (): Detector => {
      const lane = lanes++;
      return { name: 'f', reset: () => undefined, step: () => ({ score: lane === 0 ? 2 : 0 }), close: () => void closes++ };
    };
    await t.rejects(runCorpus(factory, keys, load, { concurrency: 3 }), { code: 'E_BAD_VALUE' });
    t.equal(closes, 3, 'every lane closed its detector');
  });
});
