/**
 * Streams NAB files through a detector exactly as NAB demands: rows in file
 * order, one detector (one parameter set) reset before each file, each row
 * shown only on its turn. Forecast accuracy is measured in the same pass.
 */
import { EdgeLstmError } from '../errors';
import type { Detector, DetectorOutput } from './detector';
import { StreamingForecastAccuracy, type FileForecastAccuracy } from './forecast-metrics';
import type { NabFile } from './nab-corpus';
import { fileSweep, type FileSweep } from './sweep-values';

export interface FileRun {
  readonly file: NabFile;
  readonly sweep: FileSweep;
  /** The detector's anomaly score per row. */
  readonly scores: Float64Array;
  /** The detector's own flag per row (1 = alarm), when it reports one. */
  readonly flags: Uint8Array | undefined;
  /** forecasts[i]: the detector's forecast of row i, made at row i-1; NaN where it made none. */
  readonly forecasts: Float64Array;
  readonly forecastAccuracy: FileForecastAccuracy;
  /** Wall time from reset to the last row (with concurrency, includes waiting on other lanes). */
  readonly detectorMs: number;
}

function valueRange(values: Float64Array): { inputMin: number; inputMax: number } {
  let inputMin = Infinity;
  let inputMax = -Infinity;
  for (const v of values) {
    inputMin = Math.min(inputMin, v);
    inputMax = Math.max(inputMax, v);
  }
  return { inputMin, inputMax };
}

function isPromise(x: DetectorOutput | Promise<DetectorOutput>): x is Promise<DetectorOutput> {
  return typeof (x as Promise<DetectorOutput>).then === 'function';
}

export async function runFile(detector: Detector, file: NabFile, revealRange = false): Promise<FileRun> {
  const { timestamps, values } = file.series;
  const n = values.length;
  const sweep = fileSweep(n, file.windows);
  const scores = new Float64Array(n);
  let flags: Uint8Array | undefined;
  const forecasts = new Float64Array(n).fill(NaN);
  const accuracy = new StreamingForecastAccuracy(file.key, sweep.probation);
  const t0 = performance.now();
  await detector.reset(revealRange ? { file: file.key, ...valueRange(values) } : { file: file.key });
  for (let i = 0; i < n; i++) {
    // Measure the forecast of row i before the detector sees row i.
    accuracy.observe(timestamps[i]!, values[i]!, forecasts[i]!);
    const r = detector.step(timestamps[i]!, values[i]!);
    // Awaiting only real promises keeps a synchronous detector free of a microtask per row.
    const out = isPromise(r) ? await r : r;
    const s = out?.score;
    if (typeof s !== 'number' || !(s >= 0 && s <= 1)) {
      throw new EdgeLstmError('E_BAD_VALUE', `${file.key}, line ${i + 2}: detector ${detector.name} returned anomaly score ${String(s)}, expected a number in [0, 1]`, {
        file: file.key,
        line: i + 2,
        field: 'score',
        expected: 'a number in [0, 1]',
        found: String(s),
      });
    }
    scores[i] = s;
    if (out.flag !== undefined) (flags ??= new Uint8Array(n))[i] = out.flag ? 1 : 0;
    if (i + 1 < n && out.forecast !== undefined && Number.isFinite(out.forecast)) forecasts[i + 1] = out.forecast;
  }
  const detectorMs = performance.now() - t0;
  return { file, sweep, scores, flags, forecasts, forecastAccuracy: accuracy.result(), detectorMs };
}

/** A detector, or a factory of identically configured detectors (needed to stream several files at once). */
export type DetectorSource = Detector | (() => Detector | Promise<Detector>);

export interface RunOptions {
  /**
   * Files streamed at the same time, each through its own detector from the
   * factory; rows within a file stay strictly sequential. An engine that
   * micro-batches devices needs this: with one file at a time, every row would
   * wait out the batching window alone. Default 1.
   */
  concurrency?: number;
  /**
   * Tell each detector its file's min and max before the first row. NAB's
   * rules allow exactly this much look-ahead (its detectors' inputMin and
   * inputMax); off by default, so nothing about a file is known before its rows.
   */
  revealRange?: boolean;
  /** Called as each file finishes (in completion order when concurrent). */
  onFile?: (run: FileRun, index: number) => void;
}

/**
 * Runs every file with one parameter set: one detector reset before each file,
 * or with `concurrency` > 1, one detector per lane from the factory. Files are
 * loaded as their turn comes, and results come back in `keys` order.
 */
export async function runCorpus(source: DetectorSource, keys: readonly string[], load: (key: string) => NabFile, options: RunOptions = {}): Promise<FileRun[]> {
  const concurrency = options.concurrency ?? 1;
  if (!(Number.isInteger(concurrency) && concurrency >= 1)) throw new RangeError(`concurrency: expected an integer >= 1, found ${concurrency}`);
  if (concurrency > 1 && typeof source !== 'function') throw new TypeError('concurrency > 1 needs a detector factory: one detector instance cannot stream two files at once');
  const runs: FileRun[] = new Array<FileRun>(keys.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    if (next >= keys.length) return;
    const detector = typeof source === 'function' ? await source() : source;
    try {
      while (next < keys.length) {
        const k = next++;
        runs[k] = await runFile(detector, load(keys[k]!), options.revealRange ?? false);
        options.onFile?.(runs[k]!, k);
      }
    } finally {
      await detector.close?.();
    }
  };
  // allSettled, so every lane's detector is closed before a failure is reported.
  const settled = await Promise.allSettled(Array.from({ length: Math.min(concurrency, Math.max(keys.length, 1)) }, lane));
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
  return runs;
}
