/**
 * Compares the output of two runs (JSON lines, or one JSON document per
 * line) value by value: numbers within a tolerance, everything else
 * (record count, keys, nulls, booleans such as `anomaly`, strings) exactly.
 */

export interface Comparison {
  /** Numbers compared. */
  values: number;
  /** Largest |a - b| over all numbers. */
  maxAbsDiff: number;
  /** Where maxAbsDiff was found, e.g. `line 17 .forecast[0]`. */
  maxAt: string;
  /** The first few differences beyond the tolerance or of structure; empty when the runs agree. */
  mismatches: string[];
}

/** How many mismatches are kept for the report. */
const KEEP = 5;

/**
 * A number agrees when |a - b| <= tolerance * max(1, |a|): absolute for the
 * values sensors give (|a| <= 1 after normalization, forecasts of similar
 * size), relative for large ones such as timestamps.
 */
export function withinTolerance(a: number, b: number, tolerance: number): boolean {
  if (Number.isNaN(a) || Number.isNaN(b)) return Number.isNaN(a) && Number.isNaN(b);
  return Math.abs(a - b) <= tolerance * Math.max(1, Math.abs(a));
}

export function compareOutputs(reference: string, candidate: string, tolerance: number): Comparison {
  const ref = lines(reference);
  const got = lines(candidate);
  const c: Comparison = { values: 0, maxAbsDiff: 0, maxAt: '-', mismatches: [] };
  const note = (m: string): void => {
    if (c.mismatches.length < KEEP) c.mismatches.push(m);
    else if (c.mismatches.length === KEEP) c.mismatches.push('...');
  };
  if (ref.length !== got.length) note(`record count: expected ${ref.length}, found ${got.length}`);
  const n = Math.min(ref.length, got.length);
  for (let i = 0; i < n; i++) {
    let a: unknown;
    let b: unknown;
    try {
      a = JSON.parse(ref[i]!);
      b = JSON.parse(got[i]!);
    } catch {
      note(`line ${i + 1}: not JSON`);
      continue;
    }
    walk(a, b, `line ${i + 1} `, c, tolerance, note);
  }
  return c;
}

function lines(text: string): string[] {
  return text.split('\n').filter((l) => l.trim() !== '');
}

function walk(a: unknown, b: unknown, path: string, c: Comparison, tol: number, note: (m: string) => void): void {
  if (typeof a === 'number' && typeof b === 'number') {
    c.values++;
    const d = Math.abs(a - b);
    if (d > c.maxAbsDiff) {
      c.maxAbsDiff = d;
      c.maxAt = path;
    }
    if (!withinTolerance(a, b, tol)) note(`${path}: expected ${a}, found ${b} (diff ${d.toExponential(2)})`);
    return;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) {
      note(`${path}: expected ${a.length} elements, found ${b.length}`);
      return;
    }
    for (let i = 0; i < a.length; i++) walk(a[i], b[i], `${path}[${i}]`, c, tol, note);
    return;
  }
  if (isObject(a) && isObject(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const k of keys) {
      if (!(k in a) || !(k in b)) note(`${path}.${k}: present in only one run`);
      else walk(a[k], b[k], `${path}.${k}`, c, tol, note);
    }
    return;
  }
  if (a !== b) note(`${path}: expected ${JSON.stringify(a)}, found ${JSON.stringify(b)}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
