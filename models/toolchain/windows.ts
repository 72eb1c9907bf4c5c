import type { PreparedSeries } from './series-data';

/** Windows as (series index, first row) pairs, flat in an Int32Array. */
export interface WindowSplit {
  readonly train: Int32Array;
  readonly val: Int32Array;
  /** How the validation windows were chosen, for the training summary. */
  readonly valRule: 'chronological' | 'interleaved' | 'none';
}

/**
 * Cuts each series into windows of `window` rows every `stride` rows. The last
 * `valFraction` of each series (in time) is validation: a forecaster is judged
 * on a future it has not seen, and no window straddles the split. When no
 * series is long enough for that, every fifth training window is held out
 * instead, so early stopping still has something to watch.
 */
export function splitWindows(series: readonly PreparedSeries[], window: number, stride: number, valFraction: number): WindowSplit {
  const train: number[] = [];
  const val: number[] = [];
  series.forEach((s, i) => {
    const split = valFraction > 0 ? Math.floor(s.rows * (1 - valFraction)) : s.rows;
    const trainEnd = s.rows - split >= window ? split : s.rows;
    for (let a = 0; a + window <= trainEnd; a += stride) train.push(i, a);
    if (trainEnd < s.rows) for (let a = trainEnd; a + window <= s.rows; a += stride) val.push(i, a);
  });
  if (valFraction > 0 && val.length === 0 && train.length >= 4) {
    const keep: number[] = [];
    for (let w = 0; w < train.length / 2; w++) (w % 5 === 4 ? val : keep).push(train[2 * w]!, train[2 * w + 1]!);
    return { train: Int32Array.from(keep), val: Int32Array.from(val), valRule: 'interleaved' };
  }
  return { train: Int32Array.from(train), val: Int32Array.from(val), valRule: valFraction > 0 && val.length > 0 ? 'chronological' : 'none' };
}

/** Seeded Fisher-Yates over (series, start) pairs. */
export function shufflePairs(pairs: Int32Array, rand: () => number): void {
  for (let i = pairs.length / 2 - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const a = pairs[2 * i]!;
    const b = pairs[2 * i + 1]!;
    pairs[2 * i] = pairs[2 * j]!;
    pairs[2 * i + 1] = pairs[2 * j + 1]!;
    pairs[2 * j] = a;
    pairs[2 * j + 1] = b;
  }
}
