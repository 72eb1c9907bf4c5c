import { EdgeLstmError, formatWithDetails, type ErrorDetails } from '../errors';
import { parseTimestamp } from '../util/timestamp';

const NAB_TIME = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?$/;

/**
 * Parses NAB's `YYYY-MM-DD HH:MM:SS[.ffffff]` as UTC epoch milliseconds.
 * NAB's times carry no zone; reading them as UTC keeps every day 24 hours
 * long, which the seasonal baseline relies on. Returns NaN if malformed.
 */
export function parseNabTime(text: string): number {
  // NAB's files hold this one format: anything else is a malformed file, even a timestamp parseTimestamp reads.
  return NAB_TIME.test(text) ? parseTimestamp(text) : NaN;
}

/** An E_CSV error whose message names the file, line and column. */
export function csvError(message: string, details: ErrorDetails): EdgeLstmError {
  return new EdgeLstmError('E_CSV', formatWithDetails(message, details), details);
}
