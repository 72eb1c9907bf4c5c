import type { Model } from './load-model';

/** Same architecture: device states carry over. Anything else and states are reset. */
export function sameArchitecture(a: Model, b: Model): boolean {
  const da = a.dims;
  const db = b.dims;
  return (
    da.H === db.H && da.L === db.L && da.F === db.F && da.T === db.T &&
    a.metadata.features.join('\u0000') === b.metadata.features.join('\u0000') &&
    a.metadata.targets.join('\u0000') === b.metadata.targets.join('\u0000') &&
    a.metadata.normalization.mode === b.metadata.normalization.mode &&
    a.hasLogvar === b.hasLogvar
  );
}
