import type { Result } from '../engine/sample';

/** Strings JSON.stringify leaves as they are inside quotes: printable ASCII without `"` and `\`. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

const str = (s: string): string => (PLAIN.test(s) ? `"${s}"` : JSON.stringify(s));
// Number-to-text is the same algorithm as JSON.stringify's (ECMAScript Number::toString); non-finite is null there.
const num = (x: number | null): string => (x !== null && Number.isFinite(x) ? `${x}` : 'null');

function arr(xs: readonly number[] | null): string {
  if (xs === null) return 'null';
  let o = '[';
  for (let i = 0; i < xs.length; i++) o += i === 0 ? num(xs[i]!) : `,${num(xs[i]!)}`;
  return `${o}]`;
}

/**
 * A result as MQTT payload: the same text as JSON.stringify(result) (same
 * keys, order and number formatting; a test holds the two equal on engine
 * results), about twice as fast because the shape is known.
 */
export function resultJson(r: Result): string {
  return `{"device":${str(r.device)},"ts":${num(r.ts)},"values":${arr(r.values)},"expected":${arr(r.expected)},"error":${arr(r.error)},"score":${num(r.score)},"likelihood":${num(r.likelihood)},"anomaly":${r.anomaly},"forecast":${arr(r.forecast)},"warmup":${r.warmup},"model":${str(r.model)}}`;
}
