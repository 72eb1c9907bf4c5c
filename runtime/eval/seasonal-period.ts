/** Seasonal period from the timestamps alone: the median sampling interval says which cycle to use. */

export const DAY_MS = 86_400_000;
export const WEEK_MS = 7 * DAY_MS;

/**
 * Daily for sub-daily sampling (5-minute and 30-minute NAB files, hourly ad
 * exchange), weekly for daily or coarser sampling. Human-driven and machine
 * load series in NAB cycle with the day; that is a stated assumption, not a
 * fitted one, so nothing is tuned per file. Returns NaN with no positive interval.
 */
export function seasonalPeriodMs(medianIntervalMs: number): number {
  if (!(medianIntervalMs > 0)) return NaN;
  return medianIntervalMs < DAY_MS ? DAY_MS : WEEK_MS;
}

/** Median of the positive gaps between consecutive timestamps (duplicates and backward steps skipped). */
export function medianInterval(timestamps: ArrayLike<number>, count = timestamps.length): number {
  const gaps: number[] = [];
  for (let i = 1; i < count; i++) {
    const d = timestamps[i]! - timestamps[i - 1]!;
    if (d > 0) gaps.push(d);
  }
  if (gaps.length === 0) return NaN;
  gaps.sort((a, b) => a - b);
  return gaps[gaps.length >> 1]!;
}
