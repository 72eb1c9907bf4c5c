import { EdgeLstmError, formatWithDetails, type ErrorDetails } from '../errors';

const NAB_TIME = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/;

/**
 * Parses NAB's `YYYY-MM-DD HH:MM:SS[.ffffff]` as UTC epoch milliseconds.
 * NAB's times carry no zone; reading them as UTC keeps every day 24 hours
 * long, which the seasonal baseline relies on. Returns NaN if malformed.
 */
export function parseNabTime(text: string): number {
  const m = NAB_TIME.exec(text);
  if (!m) return NaN;
  const frac = m[7] !== undefined ? Number(m[7].padEnd(6, '0')) / 1000 : 0;
  return Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!) + frac;
}

/** An E_CSV error whose message names the file, line and column. */
export function csvError(message: string, details: ErrorDetails): EdgeLstmError {
  return new EdgeLstmError('E_CSV', formatWithDetails(message, details), details);
}
