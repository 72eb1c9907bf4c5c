import type { BatchResults } from './batch-results';
import { PLAIN, num } from './result-json';

/** Where a result's JSON goes as bytes (PacketBatch: straight into the packet being encoded). */
export interface JsonBytes {
  /** The buffer with at least `n` bytes free from `at`. */
  room(n: number): Buffer;
  /** Where the next byte goes. */
  readonly at: number;
  /** `n` bytes were written from `at`; `wide`: some were UTF-8 of characters above U+007F. */
  wrote(n: number, wide: boolean): void;
}

/** Longest JSON text of a number (`-1.2345678901234567e-308`), with a separator. */
const NUM = 26;

/** ASCII text at o; the new offset. */
function asc(b: Buffer, o: number, s: string): number {
  for (let k = 0; k < s.length; k++) b[o++] = s.charCodeAt(k);
  return o;
}

/**
 * A number's JSON text at o. A safe integer (a timestamp, a count) as its digits, written here: no string
 * (through num(), a timestamp past 2^31 takes three); anything else as num() formats it (JSON.stringify's text).
 */
function numAt(b: Buffer, o: number, x: number): number {
  if (!Number.isSafeInteger(x)) return asc(b, o, num(x));
  if (x < 0) {
    b[o++] = 0x2d; // -
    x = -x;
  }
  let digits = 1;
  for (let p = 10; p <= x; p *= 10) digits++;
  const end = o + digits;
  for (let k = end - 1; k >= o; k--) {
    const q = Math.floor(x / 10);
    b[k] = 0x30 + (x - q * 10);
    x = q;
  }
  return end;
}

let wide = false;

/** A JSON string at o: printable ASCII without `"` and `\` as is, anything else as JSON.stringify writes it. */
function str(b: Buffer, o: number, s: string): number {
  if (PLAIN.test(s)) {
    b[o++] = 0x22;
    o = s.length > 32 ? o + b.write(s, o, 'latin1') : asc(b, o, s);
    b[o++] = 0x22;
    return o;
  }
  const j = JSON.stringify(s);
  const n = b.write(j, o, 'utf8');
  if (n !== j.length) wide = true;
  return o + n;
}

function nums(b: Buffer, o: number, a: ArrayLike<number>, off: number, n: number): number {
  b[o++] = 0x5b; // [
  for (let k = 0; k < n; k++) {
    if (k > 0) b[o++] = 0x2c; // ,
    o = numAt(b, o, a[off + k]!);
  }
  b[o++] = 0x5d; // ]
  return o;
}

function names(b: Buffer, o: number, xs: readonly string[]): number {
  b[o++] = 0x5b;
  for (let k = 0; k < xs.length; k++) {
    if (k > 0) b[o++] = 0x2c;
    o = str(b, o, xs[k]!);
  }
  b[o++] = 0x5d;
  return o;
}

/** Bytes a JSON string of `s` takes at most (`\uXXXX` for each UTF-16 unit) and the names of an array. */
const strMax = (s: string): number => 6 * s.length + 2;
function namesMax(xs: readonly string[]): number {
  let n = 2;
  for (let k = 0; k < xs.length; k++) n += strMax(xs[k]!) + 1;
  return n;
}

/**
 * Row i of a columnar batch written as bytes: the UTF-8 of batchResultJson(b, i)
 * (and so of JSON.stringify of the row's Result), without the string itself,
 * the many intermediate strings that build it, or their flattening when the
 * string is written (test/service/result-bytes.test.ts holds the bytes equal).
 * Room for the longest text the row can take is asked for once.
 */
export function writeBatchResult(out: JsonBytes, b: BatchResults, i: number): void {
  const C = b.columns;
  const T = b.T;
  const has = C.hasForecast[i] === 1;
  const device = b.device(i);
  const values = b.sample(i).values;
  const n = T * b.horizon;
  const anomalous = b.anomalousOf(i);
  const e = b.episodeOf(i, anomalous);
  const max = 320 + strMax(device) + strMax(b.model) + NUM * (1 + values.length + 2 * T + 2 + n + 4) + 2 * namesMax(anomalous) + (e === null ? 0 : namesMax(e.features));
  const buf = out.room(max);
  const start = out.at;
  wide = false;
  let o = asc(buf, start, '{"device":');
  o = str(buf, o, device);
  o = asc(buf, o, ',"ts":');
  o = numAt(buf, o, b.ts(i));
  o = asc(buf, o, ',"values":');
  o = nums(buf, o, values, 0, values.length);
  o = asc(buf, o, ',"expected":');
  o = has ? nums(buf, o, C.expected, i * T, T) : asc(buf, o, 'null');
  o = asc(buf, o, ',"error":');
  o = has ? nums(buf, o, C.error, i * T, T) : asc(buf, o, 'null');
  o = asc(buf, o, ',"score":');
  o = asc(buf, o, num(C.score[i]!));
  o = asc(buf, o, ',"likelihood":');
  o = asc(buf, o, num(C.likelihood[i]!));
  o = asc(buf, o, C.anomaly[i] === 1 ? ',"anomaly":true,"anomalous":' : ',"anomaly":false,"anomalous":');
  o = names(buf, o, anomalous);
  o = asc(buf, o, ',"episode":');
  if (e === null) o = asc(buf, o, 'null');
  else {
    o = asc(buf, o, `{"state":"${e.state}","start":${num(e.start)},"readings":${num(e.readings)},"durationMs":${num(e.durationMs)},"peak":${num(e.peak)},"features":`);
    o = names(buf, o, e.features);
    buf[o++] = 0x7d; // }
  }
  o = asc(buf, o, ',"forecast":');
  o = nums(buf, o, C.forecast, i * n, n);
  o = asc(buf, o, C.learning[i] === 1 ? ',"warmup":true,"model":' : ',"warmup":false,"model":');
  o = str(buf, o, b.model);
  buf[o++] = 0x7d;
  out.wrote(o - start, wide);
}
