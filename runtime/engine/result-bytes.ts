import type { BatchResults } from './batch-results';
import type { Episode } from './sample';
import { PLAIN, num } from './result-json';

/** Where a result's JSON text goes as bytes (PacketBatch: straight into the packet being encoded). */
export interface JsonSink {
  /** Text of ASCII characters only (U+0000-007F), one byte each. */
  ascii(s: string): void;
  /** Any text, as UTF-8. */
  utf8(s: string): void;
}

/** A JSON string: printable ASCII without `"` and `\` as is, anything else as JSON.stringify writes it. */
function str(out: JsonSink, s: string): void {
  if (PLAIN.test(s)) {
    out.ascii('"');
    out.ascii(s);
    out.ascii('"');
  } else out.utf8(JSON.stringify(s));
}

/** `n` numbers of a column from `off`, as a JSON array. */
function cols(out: JsonSink, a: Float64Array, off: number, n: number): void {
  out.ascii('[');
  for (let k = 0; k < n; k++) {
    if (k > 0) out.ascii(',');
    out.ascii(num(a[off + k]!));
  }
  out.ascii(']');
}

function values(out: JsonSink, xs: ArrayLike<number>): void {
  out.ascii('[');
  for (let k = 0; k < xs.length; k++) {
    if (k > 0) out.ascii(',');
    out.ascii(num(xs[k]!));
  }
  out.ascii(']');
}

function names(out: JsonSink, xs: readonly string[]): void {
  out.ascii('[');
  for (let k = 0; k < xs.length; k++) {
    if (k > 0) out.ascii(',');
    str(out, xs[k]!);
  }
  out.ascii(']');
}

function episode(out: JsonSink, e: Episode): void {
  out.ascii(`{"state":"${e.state}","start":${num(e.start)},"readings":${num(e.readings)},"durationMs":${num(e.durationMs)},"peak":${num(e.peak)},"features":`);
  names(out, e.features);
  out.ascii('}');
}

/**
 * Row i of a columnar batch written as bytes: the UTF-8 of batchResultJson(b, i)
 * (and so of JSON.stringify of the row's Result), without the string itself,
 * the many intermediate strings that build it, or their flattening when the
 * string is written (test/engine/result-bytes.test.ts holds the bytes equal).
 */
export function writeBatchResult(out: JsonSink, b: BatchResults, i: number): void {
  const C = b.columns;
  const T = b.T;
  const has = C.hasForecast[i] === 1;
  out.ascii('{"device":');
  str(out, b.device(i));
  out.ascii(',"ts":');
  out.ascii(num(b.ts(i)));
  out.ascii(',"values":');
  values(out, b.sample(i).values);
  out.ascii(',"expected":');
  if (has) cols(out, C.expected, i * T, T);
  else out.ascii('null');
  out.ascii(',"error":');
  if (has) cols(out, C.error, i * T, T);
  else out.ascii('null');
  out.ascii(',"score":');
  out.ascii(num(C.score[i]!));
  out.ascii(',"likelihood":');
  out.ascii(num(C.likelihood[i]!));
  out.ascii(C.anomaly[i] === 1 ? ',"anomaly":true,"anomalous":' : ',"anomaly":false,"anomalous":');
  const anomalous = b.anomalousOf(i);
  names(out, anomalous);
  out.ascii(',"episode":');
  const e = b.episodeOf(i, anomalous);
  if (e === null) out.ascii('null');
  else episode(out, e);
  out.ascii(',"forecast":');
  const n = T * b.horizon;
  cols(out, C.forecast, i * n, n);
  out.ascii(C.learning[i] === 1 ? ',"warmup":true,"model":' : ',"warmup":false,"model":');
  str(out, b.model);
  out.ascii('}');
}
