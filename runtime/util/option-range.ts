import { EdgeLstmError } from '../errors';

/**
 * A numeric option's default and the values it may take. `max` absent: no
 * upper bound (Number.MAX_SAFE_INTEGER). `above`: `min` itself is excluded
 * (a rate or a share that must be more than 0).
 */
export interface OptionRange {
  readonly default: number;
  readonly min: number;
  readonly max?: number;
  readonly above?: boolean;
  readonly integer: boolean;
}

/** Throws E_CONFIG naming `field` unless `v` is a number inside `r`. */
export function checkRange(field: string, v: unknown, r: OptionRange): void {
  const max = r.max ?? Number.MAX_SAFE_INTEGER;
  const n = v as number;
  if (typeof v === 'number' && (r.integer ? Number.isInteger(n) : Number.isFinite(n)) && (r.above === true ? n > r.min : n >= r.min) && n <= max) return;
  const kind = r.integer ? 'an integer' : 'a number';
  const span = r.above === true ? `above ${r.min} and at most ${max}` : `from ${r.min} to ${max}`;
  throw new EdgeLstmError('E_CONFIG', `option ${field} must be ${kind} ${span}, got ${JSON.stringify(v)}`, { field, expected: `${r.integer ? 'integer ' : ''}${r.min}..${max}`, found: JSON.stringify(v) });
}
