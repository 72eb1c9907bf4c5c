/**
 * NAB's cost profiles (SCORING.md section 7). `tnWeight` exists in NAB's
 * profiles.json but no score uses it, so it is not carried here.
 */
export interface CostProfile {
  readonly name: ProfileName;
  /** Worth of a detection on a window's first row. */
  readonly tpWeight: number;
  /** Cost of a false-alarm row far from any window. */
  readonly fpWeight: number;
  /** Cost of a window with no detection. */
  readonly fnWeight: number;
}

export type ProfileName = 'standard' | 'reward_low_FP_rate' | 'reward_low_FN_rate';

export const PROFILE_NAMES: readonly ProfileName[] = Object.freeze(['standard', 'reward_low_FP_rate', 'reward_low_FN_rate']);

/** The values of NAB's config/profiles.json at v1.1, used when no profiles file is given. */
export const NAB_PROFILES: readonly CostProfile[] = Object.freeze([
  Object.freeze({ name: 'standard', tpWeight: 1.0, fpWeight: 0.11, fnWeight: 1.0 } as const),
  Object.freeze({ name: 'reward_low_FP_rate', tpWeight: 1.0, fpWeight: 0.22, fnWeight: 1.0 } as const),
  Object.freeze({ name: 'reward_low_FN_rate', tpWeight: 1.0, fpWeight: 0.11, fnWeight: 2.0 } as const),
]);
