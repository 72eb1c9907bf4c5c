/**
 * The cost of putting a batch's results into a packet batch, per result, in one process (CPU time, so other
 * work on the machine matters less than in the end-to-end bench): the result JSON as a string then written
 * (batchResultJson + PacketBatch.publish) against written as bytes straight into the batch
 * (writeBatchResult between beginPublish and endPublish), at QoS 0 and 1 (QoS 1 keeps the payload text
 * for mqtt.js's store). Alternated rounds, medians.
 *
 *   node dist/bench/result-bytes.js [--rounds 15] [--targets 1] [--horizon 1]
 */
import { BatchResults, ResultColumns, type SteppedRow } from '../runtime/engine/batch-results';
import { batchResultJson } from '../runtime/engine/result-json';
import { writeBatchResult } from '../runtime/engine/result-bytes';
import { PacketBatch } from '../runtime/service/packet-batch';

const argOf = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const rounds = argOf('--rounds', 15);
const T = argOf('--targets', 1);
const horizon = argOf('--horizon', 1);
const B = 256;
const DEVICES = 1000;

/** Batches of engine-like rows: full-precision doubles, timestamps, an occasional first reading. */
function batches(n: number): BatchResults[] {
  const out: BatchResults[] = [];
  let seed = 7;
  const r = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  for (let k = 0; k < n; k++) {
    const C = new ResultColumns(B, T, horizon);
    const rows: SteppedRow[] = [];
    for (let i = 0; i < B; i++) {
      C.hasForecast[i] = r() < 0.99 ? 1 : 0;
      for (let j = 0; j < T; j++) {
        C.expected[i * T + j] = 20 + r() * 5;
        C.error[i * T + j] = r() - 0.5;
      }
      for (let j = 0; j < T * horizon; j++) C.forecast[i * T * horizon + j] = 20 + r() * 5;
      C.score[i] = r() * 3;
      C.likelihood[i] = r();
      C.learning[i] = 0;
      rows.push({ sample: { device: `dev-${Math.floor(r() * DEVICES)}`, values: Array.from({ length: T }, () => Math.round(r() * 1e4) / 100) }, ts: 1_700_000_000_000 + k * 1000 + i });
    }
    const b = new BatchResults(C, Array.from({ length: T }, (_, j) => `f${j}`), horizon);
    b.reset(rows, 'generic@1.1.0');
    out.push(b);
  }
  return out;
}

const topics = Array.from({ length: DEVICES }, (_, d) => `edgelstm/dev-${d}/result`);
const topicOf = (b: BatchResults, i: number): string => topics[Number(b.device(i).slice(4))]!;

type Design = (batch: PacketBatch, b: BatchResults, i: number, qos: 0 | 1, keep: string[]) => void;
const DESIGNS: Record<string, Design> = {
  'string, then written': (batch, b, i, qos, keep) => {
    const json = batchResultJson(b, i);
    batch.publish(topicOf(b, i), json, qos, 1 + i);
    if (qos === 1) keep.push(json);
  },
  'bytes into the batch': (batch, b, i, qos, keep) => {
    batch.beginPublish(topicOf(b, i), qos, 1 + i);
    writeBatchResult(batch, b, i);
    batch.endPublish();
    if (qos === 1) keep.push(batch.lastPayload());
  },
};

function measure(design: Design, data: BatchResults[], qos: 0 | 1): number {
  const batch = new PacketBatch(4);
  let keep: string[] = [];
  let n = 0;
  const t0 = process.cpuUsage();
  for (const b of data) {
    for (let i = 0; i < B; i++) design(batch, b, i, qos, keep);
    batch.recycle(batch.take());
    n += B;
    if (keep.length > 20_000) keep = []; // mqtt.js's store holds QoS 1 payloads until their PUBACK
  }
  const u = process.cpuUsage(t0);
  return ((u.user + u.system) * 1000) / n; // ns per result
}

const data = batches(400);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
for (const qos of [0, 1] as const) {
  const times = new Map<string, number[]>(Object.keys(DESIGNS).map((k) => [k, []]));
  for (let r = 0; r < rounds; r++) for (const [name, d] of Object.entries(DESIGNS)) times.get(name)!.push(measure(d, data, qos));
  const [a, b] = [...times.values()].map((xs) => median(xs.slice(2))); // the first rounds warm up
  process.stdout.write(`QoS ${qos}, ${T} target(s), horizon ${horizon}: string then written ${(a! / 1000).toFixed(2)} µs/result, bytes into the batch ${(b! / 1000).toFixed(2)} µs/result (${(b! / a!).toFixed(2)}x)\n`);
}
