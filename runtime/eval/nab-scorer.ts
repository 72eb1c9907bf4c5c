/**
 * NAB's corpus score (SCORING.md sections 5 and 6): a score at a fixed
 * threshold, the exhaustive threshold sweep that NAB has used since 2019, and
 * the normalisation against the null and perfect detectors. Pure functions:
 * no I/O, no clocks.
 */
import type { CostProfile } from './profiles';
import type { FileSweep } from './sweep-values';

/** One file's detector output, ready to score. */
export interface ScoredFile {
  /** Names the file in errors, e.g. `realKnownCause/nyc_taxi.csv`. */
  readonly name: string;
  readonly sweep: FileSweep;
  /** One anomaly score in [0, 1] per row, in file order. */
  readonly scores: ArrayLike<number>;
}

export interface CorpusScore {
  readonly profile: string;
  /** Detection rule: score >= threshold. Infinity means "detect nothing" (NAB's "above 1"). */
  readonly threshold: number;
  /** Sum over windows and false alarms, in profile weights. */
  readonly raw: number;
  /** 100 * (raw - null) / (perfect - null): 0 never fires, 100 fires only on each window's first row. */
  readonly normalized: number;
  readonly windows: number;
  readonly detectedWindows: number;
  /** Detections outside every window, each of which is charged. */
  readonly falseAlarmRows: number;
}

/** NAB's normalisation: the null detector scores -fnWeight per window, the perfect one tpWeight per window. */
export function normalizeScore(raw: number, windows: number, p: CostProfile): number {
  const nul = -p.fnWeight * windows;
  const perfect = p.tpWeight * windows;
  if (perfect === nul) return 0; // no windows at all: nothing to normalise against
  return (100 * (raw - nul)) / (perfect - nul);
}

/** Throws if a file's scores are not one finite value in [0, 1] per row, as NAB demands. */
export function checkScores(f: ScoredFile): void {
  if (f.scores.length !== f.sweep.rows) throw new RangeError(`${f.name}: expected ${f.sweep.rows} anomaly scores (one per row), found ${f.scores.length}`);
  for (let i = 0; i < f.scores.length; i++) {
    const s = f.scores[i]!;
    if (!(s >= 0 && s <= 1)) throw new RangeError(`${f.name}: row ${i}: anomaly score must be in [0, 1], found ${s}`);
  }
}

/** Where each file's windows start in the corpus-wide window numbering, and how many there are. */
function windowOffsets(files: readonly ScoredFile[]): { offsets: number[]; total: number } {
  const offsets: number[] = [];
  let total = 0;
  for (const f of files) {
    offsets.push(total);
    let n = 0;
    for (let i = 0; i < f.sweep.rows; i++) n = Math.max(n, f.sweep.windowOf[i]! + 1);
    total += n;
  }
  return { offsets, total };
}

/** The corpus score at one threshold: the earliest detection in a window counts, every false-alarm row is charged. */
export function scoreAtThreshold(files: readonly ScoredFile[], p: CostProfile, threshold: number): CorpusScore {
  const { offsets, total } = windowOffsets(files);
  const best = new Float64Array(total).fill(NaN);
  let fpSum = 0;
  let fpRows = 0;
  files.forEach((f, k) => {
    checkScores(f);
    const { unweighted, windowOf, probation, rows } = f.sweep;
    for (let i = probation; i < rows; i++) {
      if (!(f.scores[i]! >= threshold)) continue;
      const w = windowOf[i]!;
      if (w < 0) {
        fpSum += p.fpWeight * unweighted[i]!;
        fpRows++;
      } else if (Number.isNaN(best[offsets[k]! + w]!)) {
        best[offsets[k]! + w] = p.tpWeight * unweighted[i]!; // rows run in order, so the first is the best
      }
    }
  });
  let raw = fpSum;
  let detected = 0;
  for (const b of best) {
    if (Number.isNaN(b)) raw -= p.fnWeight;
    else {
      raw += b;
      detected++;
    }
  }
  return { profile: p.name, threshold, raw, normalized: normalizeScore(raw, total, p), windows: total, detectedWindows: detected, falseAlarmRows: fpRows };
}

/** Every scorable row of the corpus, pooled and sorted by score, highest first. Build once, sweep per profile. */
export interface PooledRows {
  readonly windows: number;
  readonly score: Float64Array;
  /** Corpus-wide window id, or -1. */
  readonly window: Int32Array;
  readonly unweighted: Float64Array;
}

export function poolRows(files: readonly ScoredFile[]): PooledRows {
  const { offsets, total } = windowOffsets(files);
  let n = 0;
  for (const f of files) {
    checkScores(f);
    n += f.sweep.rows - f.sweep.probation;
  }
  const score = new Float64Array(n);
  const window = new Int32Array(n);
  const unweighted = new Float64Array(n);
  let j = 0;
  files.forEach((f, k) => {
    for (let i = f.sweep.probation; i < f.sweep.rows; i++, j++) {
      score[j] = f.scores[i]!;
      const w = f.sweep.windowOf[i]!;
      window[j] = w < 0 ? -1 : offsets[k]! + w;
      unweighted[j] = f.sweep.unweighted[i]!;
    }
  });
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => score[b]! - score[a]! || a - b);
  const pick = <T extends Float64Array | Int32Array>(src: T, dst: T): T => {
    for (let i = 0; i < n; i++) dst[i] = src[order[i]!]!;
    return dst;
  };
  // Ties keep file-and-row order (the sort above is stable on the index), so the first row of a window seen in a
  // group of equal scores is also its earliest row.
  return { windows: total, score: pick(score, new Float64Array(n)), window: pick(window, new Int32Array(n)), unweighted: pick(unweighted, new Float64Array(n)) };
}

/**
 * NAB's threshold choice: among every distinct score of a scorable row, plus
 * "above 1" (nothing detected), the one with the highest raw score. Ties go to
 * the highest threshold, as NAB reports. O(rows) after the sort in poolRows.
 */
export function optimizeThreshold(pooled: PooledRows, p: CostProfile): CorpusScore {
  const { score, window, unweighted, windows } = pooled;
  // The window term starts at -fnWeight each; when a window is first reached by a lower threshold its term
  // becomes tpWeight * (value of its earliest detected row), which can only grow as more rows join.
  const best = new Float64Array(windows).fill(NaN);
  let raw = -p.fnWeight * windows;
  let fpRows = 0;
  let detected = 0;
  let top: CorpusScore = { profile: p.name, threshold: Infinity, raw, normalized: normalizeScore(raw, windows, p), windows, detectedWindows: 0, falseAlarmRows: 0 };
  for (let i = 0; i < score.length; ) {
    const s = score[i]!;
    for (; i < score.length && score[i] === s; i++) {
      const w = window[i]!;
      const v = unweighted[i]!;
      if (w < 0) {
        raw += p.fpWeight * v;
        fpRows++;
      } else if (Number.isNaN(best[w]!)) {
        best[w] = p.tpWeight * v;
        raw += p.fnWeight + best[w]!;
        detected++;
      } else if (p.tpWeight * v > best[w]!) {
        raw += p.tpWeight * v - best[w]!;
        best[w] = p.tpWeight * v;
      }
    }
    // Strictly greater: on a tie the higher threshold, found first, stays.
    if (raw > top.raw) top = { profile: p.name, threshold: s, raw, normalized: normalizeScore(raw, windows, p), windows, detectedWindows: detected, falseAlarmRows: fpRows };
  }
  return top;
}
