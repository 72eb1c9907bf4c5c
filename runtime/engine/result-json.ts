import type { BatchResults } from './batch-results';
import type { Episode, Result } from './sample';

/** Strings JSON.stringify leaves as they are inside quotes: printable ASCII without `"` and `\`. */
export const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

const str = (s: string): string => (PLAIN.test(s) ? `"${s}"` : JSON.stringify(s));
/**
 * An integer of 2^31 to 2^53 as text (a timestamp): V8 formats such a double through its general
 * algorithm, about 2.5x slower than two small integers; the digits are the same (exact below 2^53).
 */
function bigInt(x: number): string {
  if (x < 0) return `-${bigInt(-x)}`;
  const hi = Math.floor(x / 1e8);
  return `${hi}${`${x - hi * 1e8 + 1e8}`.slice(1)}`;
}

// Number-to-text is the same algorithm as JSON.stringify's (ECMAScript Number::toString); non-finite is null there.
export const num = (x: number | null): string => {
  if (x === null) return 'null';
  if ((x >= 2147483648 || x <= -2147483648) && Number.isSafeInteger(x)) return bigInt(x);
  return Number.isFinite(x) ? `${x}` : 'null';
};

function arr(xs: ArrayLike<number> | null): string {
  if (xs === null) return 'null';
  let o = '[';
  for (let i = 0; i < xs.length; i++) o += i === 0 ? num(xs[i]!) : `,${num(xs[i]!)}`;
  return `${o}]`;
}

/** `n` numbers of a column from `off`, as a JSON array. */
function cols(a: Float64Array, off: number, n: number): string {
  let o = '[';
  for (let k = 0; k < n; k++) o += k === 0 ? num(a[off]!) : `,${num(a[off + k]!)}`;
  return `${o}]`;
}

function names(xs: readonly string[]): string {
  let o = '[';
  for (let i = 0; i < xs.length; i++) o += i === 0 ? str(xs[i]!) : `,${str(xs[i]!)}`;
  return `${o}]`;
}

function episode(e: Episode | null): string {
  if (e === null) return 'null';
  return `{"state":"${e.state}","start":${num(e.start)},"readings":${num(e.readings)},"durationMs":${num(e.durationMs)},"peak":${num(e.peak)},"features":${names(e.features)}}`;
}

/**
 * A result as MQTT payload: the same text as JSON.stringify(result) (same
 * keys, order and number formatting; a test holds the two equal on engine
 * results), about twice as fast because the shape is known.
 */
export function resultJson(r: Result): string {
  return `{"device":${str(r.device)},"ts":${num(r.ts)},"values":${arr(r.values)},"expected":${arr(r.expected)},"error":${arr(r.error)},"score":${num(r.score)},"likelihood":${num(r.likelihood)},"anomaly":${r.anomaly},"anomalous":${names(r.anomalous)},"episode":${episode(r.episode)},"forecast":${arr(r.forecast)},"warmup":${r.warmup},"model":${str(r.model)}}`;
}

/**
 * Row i of a columnar batch as MQTT payload: the same text as
 * resultJson(batch.result(i)), read from the columns without the Result
 * object and its arrays (test/engine/result-json.test.ts holds the two equal
 * on engine batches).
 */
export function batchResultJson(b: BatchResults, i: number): string {
  const C = b.columns;
  const T = b.T;
  const has = C.hasForecast[i] === 1;
  const anomalous = b.anomalousOf(i);
  const n = T * b.horizon;
  return `{"device":${str(b.device(i))},"ts":${num(b.ts(i))},"values":${arr(b.sample(i).values)},"expected":${has ? cols(C.expected, i * T, T) : 'null'},"error":${has ? cols(C.error, i * T, T) : 'null'},"score":${num(C.score[i]!)},"likelihood":${num(C.likelihood[i]!)},"anomaly":${C.anomaly[i] === 1},"anomalous":${names(anomalous)},"episode":${episode(b.episodeOf(i, anomalous))},"forecast":${cols(C.forecast, i * n, n)},"warmup":${C.learning[i] === 1},"model":${str(b.model)}}`;
}
