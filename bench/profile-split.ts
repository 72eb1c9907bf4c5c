/**
 * Where a service's CPU went, from a V8 .cpuprofile (`bench:mqtt --cpu-prof DIR`,
 * `bench:view --cpu-prof DIR`, `bench:cluster --cpu-prof DIR`): self time by
 * category (GC, result JSON, MQTT in and out, ingest, engine, detector, ONNX
 * Runtime, socket I/O, cluster snapshots and partitions, nats.js, ...), as a share
 * of busy (non-idle) time and, given the measured service CPU per message, in
 * µs per message. Categories are matched on the frame's file and function, the
 * first rule that matches wins.
 *
 *   node dist/bench/profile-split.js PROFILE.cpuprofile [--us-per-msg 34] [--window FROM,TO] [--other]
 *
 * `--window` keeps samples between FROM and TO seconds of the profile (a phase of
 * the bench: flood or paced); `--other` lists the largest frames left in "other".
 */
import { readFileSync } from 'node:fs';

interface CallFrame {
  functionName: string;
  url: string;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
}
interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

type Rule = readonly [string, (url: string, fn: string) => boolean];
const RULES: readonly Rule[] = [
  ['idle', (_u, f) => f === '(idle)'],
  ['garbage collection', (_u, f) => f === '(garbage collector)'],
  ['start-up (module load, compile)', (u, f) => /internal\/modules|bootstrap|wrapSafe|compileFunction|realpath|package_json|node:fs|node:path|initOrt|pre_execution/.test(`${u} ${f}`)],
  ['ONNX Runtime call', (u) => /onnxruntime|dist\/backend\.js|binding\.js|cjs\/|ort-backend/.test(u)],
  ['cluster snapshots (encode, SHA-256, KV)', (u) => /cluster\/partition-snapshots|runtime\/state\/snapshot|crypto\/hash/.test(u)],
  ['detector (engine/scoring)', (u) => /engine\/scoring\/|engine\/likelihood/.test(u)],
  ['engine batching and state', (u) => /runtime\/engine\/(step-batch|engine|device-queues|batch-results|sample|options|serving)|runtime\/state\//.test(u)],
  ['result JSON', (u, f) => /result-json/.test(u) || /latin1Write|utf8Write|asciiWrite/.test(f)],
  ['reading parse', (u, f) => /runtime\/reading\//.test(u) || /utf8Slice|latin1Slice|^parse$/.test(f)],
  ['MQTT in (PublishReader, packets, topics)', (u) => /publish-reader|mqtt-packet|topic-template|topics\.js/.test(u)],
  ['MQTT out and acknowledgements', (u) => /service\/connection|packet-batch|node_modules\/mqtt\//.test(u)],
  ['ingest, recovery, journal', (u) => /service\/(ingest|recovery|journal|service|ingest-queue)/.test(u)],
  ['socket I/O', (u, f) => /node:net|streams|stream_base|node:buffer|internal\/buffer|writeBuffer|writev|onStreamRead|readableAddChunk/.test(`${u} ${f}`)],
  ['cluster partitions (take, acks, leases)', (u) => /runtime\/cluster\//.test(u)],
  ['nats.js client (protocol, JsMsg, publish)', (u, f) => /node_modules\/nats\//.test(u) || (f === 'encode' && /encoding/.test(u)) || f === 'encodeUtf8String'],
  ['live view', (u) => /runtime\/view\//.test(u)],
  ['metrics (prom-client)', (u) => /prom-client|service\/metrics/.test(u)],
  ['timers, immediates, microtasks', (u, f) => /timers|priority_queue|async_hooks|task_queues|runMicrotasks|processTicks/.test(`${u} ${f}`)],
  ['(program): native code outside JS', (_u, f) => f === '(program)'],
  ['other', () => true],
];

const argOf = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const file = process.argv[2];
if (file === undefined || file.startsWith('--')) {
  console.error('usage: node dist/bench/profile-split.js PROFILE.cpuprofile [--us-per-msg N] [--window FROM,TO] [--other]');
  process.exit(2);
}
const usPerMsg = Number(argOf('--us-per-msg') ?? '0');
const window = argOf('--window')?.split(',').map(Number);
const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));

const byCategory = new Map<string, number>();
const other = new Map<string, number>();
let busy = 0;
let clockUs = 0;
for (let i = 0; i < profile.samples.length; i++) {
  const d = profile.timeDeltas[i] ?? 0;
  clockUs += d;
  if (window !== undefined && (clockUs / 1e6 < window[0]! || clockUs / 1e6 >= window[1]!)) continue;
  const node = byId.get(profile.samples[i]!);
  if (node === undefined) continue;
  const { url, functionName } = node.callFrame;
  const name = RULES.find(([, match]) => match(url, functionName))![0];
  byCategory.set(name, (byCategory.get(name) ?? 0) + d);
  if (name !== 'idle') busy += d;
  if (name === 'other') other.set(`${functionName} ${url}`, (other.get(`${functionName} ${url}`) ?? 0) + d);
}

console.log(`${file}: busy ${(busy / 1e6).toFixed(2)} s${window ? ` (window ${window.join('-')} s)` : ''}`);
console.log(usPerMsg > 0 ? '| category | share of busy | µs/msg |\n|---|---|---|' : '| category | share of busy |\n|---|---|');
for (const [name] of RULES) {
  if (name === 'idle') continue;
  const t = byCategory.get(name) ?? 0;
  const share = busy > 0 ? t / busy : 0;
  console.log(`| ${name} | ${(100 * share).toFixed(1)}% |${usPerMsg > 0 ? ` ${(usPerMsg * share).toFixed(1)} |` : ''}`);
}
if (process.argv.includes('--other')) {
  for (const [k, t] of [...other].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log(`  other: ${((100 * t) / busy).toFixed(1)}% ${k}`);
}
