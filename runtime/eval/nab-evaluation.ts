/** The NAB verdict on a run: per profile, the threshold NAB would choose and the score there, plus per-file detail. */
import type { FileRun } from './harness';
import { optimizeThreshold, poolRows, scoreAtThreshold, type CorpusScore, type ScoredFile } from './nab-scorer';
import type { CostProfile } from './profiles';

export interface FileOutcome {
  readonly file: string;
  readonly windows: number;
  readonly detectedWindows: number;
  readonly falseAlarmRows: number;
  /** This file's share of the raw score. */
  readonly raw: number;
}

export interface ProfileOutcome {
  readonly profile: CostProfile;
  /** At NAB's chosen threshold (the exhaustive sweep), or at the fixed threshold asked for. */
  readonly score: CorpusScore;
  readonly files: readonly FileOutcome[];
}

export function scoredFiles(runs: readonly FileRun[]): ScoredFile[] {
  return runs.map((r) => ({ name: r.file.key, sweep: r.sweep, scores: r.scores }));
}

/**
 * Scores every profile at NAB's own choice of threshold, or at `fixedThreshold`
 * when given (to check a published number, which older NAB runs found by a
 * hill-climb rather than the sweep).
 */
export function evaluateNab(runs: readonly FileRun[], profiles: readonly CostProfile[], fixedThreshold?: number): ProfileOutcome[] {
  const files = scoredFiles(runs);
  const pooled = fixedThreshold === undefined ? poolRows(files) : undefined;
  return profiles.map((profile) => {
    const score = pooled ? optimizeThreshold(pooled, profile) : scoreAtThreshold(files, profile, fixedThreshold!);
    return {
      profile,
      score,
      files: files.map((f) => {
        const s = scoreAtThreshold([f], profile, score.threshold);
        return { file: f.name, windows: s.windows, detectedWindows: s.detectedWindows, falseAlarmRows: s.falseAlarmRows, raw: s.raw };
      }),
    };
  });
}

/**
 * The detector's own flag scored as it is: an alarm row is a detection, at
 * no threshold of NAB's choosing. Undefined when the detector reports no flag.
 */
export function evaluateFlags(runs: readonly FileRun[], profiles: readonly CostProfile[]): ProfileOutcome[] | undefined {
  if (runs.some((r) => r.flags === undefined)) return undefined;
  return evaluateNab(
    runs.map((r) => ({ ...r, scores: Float64Array.from(r.flags!) })),
    profiles,
    0.5,
  );
}
