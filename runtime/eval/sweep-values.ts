/**
 * What a detection at each row would be worth (SCORING.md sections 3 and 4).
 * Values are kept unweighted (in units of tpWeight inside a window and of
 * fpWeight outside), so one pass over a file serves every profile.
 */

/** One labelled window as row indices, both ends inclusive. */
export interface RowWindow {
  readonly start: number;
  readonly end: number;
}

/** NAB's scaled sigmoid: f(y) = 2/(1+e^{5y}) - 1 for y <= 3, else -1. */
export function scaledSigmoid(y: number): number {
  if (y > 3) return -1;
  return 2 / (1 + Math.exp(5 * y)) - 1;
}

const MAX_TP = scaledSigmoid(-1);

/** Rows 0..P-1 are warm-up and never scored: P = min(floor(0.15 N), 750). */
export function probationaryPeriod(rows: number): number {
  return Math.min(Math.floor(0.15 * rows), 750);
}

export interface FileSweep {
  readonly rows: number;
  /** First scorable row. */
  readonly probation: number;
  /**
   * Per row: inside a window, f(y)/f(-1) in (0, 1] (multiply by tpWeight);
   * outside, f(y) in [-1, 0] (multiply by fpWeight). NaN in the probation.
   */
  readonly unweighted: Float64Array;
  /** Per row: the index of the window holding it, or -1. */
  readonly windowOf: Int32Array;
}

/**
 * Computes the sweep values of one file. Windows must be sorted, disjoint and
 * inside the file; `checkWindows` says which rule a bad list breaks.
 */
export function fileSweep(rows: number, windows: readonly RowWindow[]): FileSweep {
  checkWindows(rows, windows);
  const probation = probationaryPeriod(rows);
  const unweighted = new Float64Array(rows);
  const windowOf = new Int32Array(rows).fill(-1);
  let next = 0; // the next window not yet ended
  let prevEnd = -1; // right index R' of the most recent window that has ended
  let prevWidth = 0;
  for (let i = 0; i < rows; i++) {
    while (next < windows.length && windows[next]!.end < i) {
      prevEnd = windows[next]!.end;
      prevWidth = windows[next]!.end - windows[next]!.start + 1;
      next++;
    }
    const w = windows[next];
    let v: number;
    if (w !== undefined && i >= w.start) {
      windowOf[i] = next;
      const width = w.end - w.start + 1;
      v = scaledSigmoid(-(w.end - i + 1) / width) / MAX_TP;
    } else if (prevEnd < 0) {
      // Before the first window, false alarms get no softening.
      v = -1;
    } else {
      // NAB divides by (w' - 1) here, unlike inside a window; a 1-row window would divide by 0, which NAB's code
      // does too (giving -inf/+inf): treat it as "far past", the only finite reading.
      v = prevWidth > 1 ? scaledSigmoid((i - prevEnd) / (prevWidth - 1)) : -1;
    }
    unweighted[i] = i < probation ? NaN : v;
  }
  return { rows, probation, unweighted, windowOf };
}

function checkWindows(rows: number, windows: readonly RowWindow[]): void {
  let prevEnd = -1;
  for (let k = 0; k < windows.length; k++) {
    const w = windows[k]!;
    if (!Number.isInteger(w.start) || !Number.isInteger(w.end) || w.start < 0 || w.end >= rows || w.start > w.end) {
      throw new RangeError(`windows[${k}]: expected 0 <= start <= end < ${rows}, found [${w.start}, ${w.end}]`);
    }
    if (w.start <= prevEnd) throw new RangeError(`windows[${k}]: windows must be sorted and disjoint, found start ${w.start} <= previous end ${prevEnd}`);
    prevEnd = w.end;
  }
}
