const EPOCH_MS = /^-?\d+(\.\d+)?$/;
const ISO_8601 = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|([+-])(\d{2}):?(\d{2}))?)?$/;

/**
 * Epoch milliseconds from a timestamp written as text: epoch milliseconds
 * ("1700000000000"), or ISO 8601 ("2024-05-01", "2024-05-01 12:00",
 * "2024-05-01T12:00:00.123456+02:00"). A time without a zone is UTC, as NAB's
 * files and most loggers mean it: every day is then 24 hours long, which the
 * seasonal baselines rely on. Fractions finer than a millisecond are kept to
 * the microsecond. NaN when the text is neither, or names no real date.
 *
 * The one timestamp parser: CSV replay and training files, NAB files
 * (runtime/eval/timestamp.ts) and reading payloads use it.
 */
export function parseTimestamp(text: string): number {
  const t = text.trim();
  if (EPOCH_MS.test(t)) return Number(t);
  const m = ISO_8601.exec(t);
  if (!m) return NaN;
  const [y, mo, d, h = 0, mi = 0, s = 0] = [m[1], m[2], m[3], m[4], m[5], m[6]].map((x) => (x === undefined ? undefined : Number(x))) as number[];
  if (mo! < 1 || mo! > 12 || d! < 1 || h > 23 || mi > 59 || s > 59) return NaN;
  const day = Date.UTC(y!, mo! - 1, d!);
  // Date.UTC rolls 2023-02-30 over into March; a date that does not exist is not a timestamp.
  if (new Date(day).getUTCDate() !== d) return NaN;
  const frac = m[7] !== undefined ? Number(m[7].padEnd(6, '0').slice(0, 6)) / 1000 : 0;
  const zone = m[9] !== undefined ? (m[9] === '-' ? -1 : 1) * (Number(m[10]) * 60 + Number(m[11])) * 60_000 : 0;
  return day + ((h * 60 + mi) * 60 + s) * 1000 + frac - zone;
}
