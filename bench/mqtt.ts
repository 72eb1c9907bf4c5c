/**
 * End-to-end MQTT throughput and latency: `npm run bench:mqtt [-- --seconds 5 --repeats 3 --qos 1,0 --devices 1000,10000]`.
 *
 * `--previous <dir>` also runs the previous design: the service compiled from
 * an earlier commit (bench/build-previous.sh), same broker, same load.
 * `--cpu-prof <dir>` writes each service process's CPU profile (one per
 * fleet size) under <dir>/qos<N>-<current|previous|naive>/.
 * `--payload json,sparkplug` runs each design twice side by side: readings as
 * JSON, and as Sparkplug B (the service run with `--payload sparkplug`; per
 * edge node of 100 devices an NBIRTH, per device a DBIRTH naming the metric
 * and its alias, then alias-only DDATA with the metric's timestamp:
 * bench/sparkplug-load.ts). Both services run at once (the idle one costs
 * nothing), their measurements interleaved repeat by repeat (paced ones at
 * the same rate: a fraction of the lower capacity), and a table compares the
 * service's CPU per message, sparkplug / json.
 *
 * Starts a Mosquitto on a free port (own config, no persistence). For each
 * QoS and fleet size it runs the service (the compiled CLI, its own process)
 * twice: micro-batched (the default) and naive (`--max-batch 1
 * --max-delay-ms 0`: one ONNX Runtime call per message, everything else
 * equal). This process publishes the readings and collects the results over
 * raw MQTT sockets (bench/mqtt-load.ts), so the load generator costs little;
 * a reference row measures it against Mosquitto alone.
 *
 * Per configuration, each measurement repeated (medians reported):
 * - capacity (flood): readings as fast as the pipeline takes them, at most
 *   --window without a result; msg/s = results received / time. At that rate
 *   latency is queueing (window / rate), so none is reported for it.
 * - latency (paced): readings offered at 50% and 80% of the measured
 *   capacity, and at 50,000/s when the capacity reaches it; p50/p99 from
 *   publish to the result arriving back here, and the rate achieved.
 * - CPU: seconds of CPU per second of wall time of the service, the broker
 *   and this process (from /proc), to show where the machine's cores went.
 * The fleet is the same devices throughout a service's life (steady state,
 * no eviction); each reading's timestamp is one second after the device's last.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, type OptionSpecs } from '../runtime/cli/args';
import { RawMqtt, sendReadings } from './mqtt-load';
import { freePort } from '../runtime/net/free-port';
import { cpuSeconds, machineCpu, quantile, selfCpu } from './proc-cpu';
import { checkDdataEncoder, dbirth, ddata, nbirth } from './sparkplug-load';
import { serviceCounters, serviceDiag, type ServiceDiag } from './service-diag';

const SPECS = {
  seconds: { type: 'number', min: 1, description: 'length of each measurement', default: 5 },
  repeats: { type: 'number', integer: true, min: 1, description: 'repeats of each measurement (median reported)', default: 3 },
  window: { type: 'number', integer: true, min: 100, description: 'readings without a result at most (capacity run)', default: 20000 },
  qos: { type: 'list', description: 'QoS levels of readings and results (0, 1)', default: ['1', '0'] },
  devices: { type: 'list', description: 'fleet sizes', default: ['1000', '10000'] },
  fractions: { type: 'list', description: 'paced rates as fractions of the measured capacity', default: ['0.5', '0.8'] },
  target: { type: 'number', min: 100, description: 'absolute paced rate, msg/s (run when the capacity reaches it)', default: 50000 },
  'fresh-fleet': { type: 'boolean', description: 'new device ids for every measurement (what this bench did before: LRU churn past --max-devices)', default: false },
  naive: { type: 'boolean', description: 'also run the naive design (one ONNX Runtime call per message)', default: true },
  previous: { type: 'string', description: 'also run the previous design: the dist/ of an earlier commit (bench/build-previous.sh makes one)' },
  mosquitto: { type: 'string', description: 'mosquitto binary', default: '/usr/sbin/mosquitto' },
  'service-args': { type: 'string', description: "extra arguments for the current design's service, space-separated (e.g. '--max-delay-ms 10')" },
  'cpu-prof': { type: 'string', description: "write each service process's CPU profile (node --cpu-prof) under DIR/<design>/" },
  payload: { type: 'list', description: 'reading payloads, each its own service side by side: json and/or sparkplug (Sparkplug B births, then alias-only DDATA; the service run with --payload sparkplug)', default: ['json'] },
} satisfies OptionSpecs;

const TS0 = 1_700_000_000_000;
let freshFleet = false;
let fleetRuns = 0;

interface RunStats {
  sent: number;
  received: number;
  seconds: number;
  p50: number;
  p99: number;
  /** CPU seconds per wall second: service, broker, this process, everything else on the machine. */
  cpu: [number, number, number, number];
  /** The service's readings per ONNX Runtime call, system calls and wake-ups per message (service-diag.ts). */
  diag: ServiceDiag;
}


function startMosquitto(bin: string, dir: string, port: number): ChildProcess {
  const conf = join(dir, 'mosquitto.conf');
  // No inflight/queue caps: the bench measures the service, not the broker's defaults (20 in flight per client).
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_inflight_messages 0\nmax_queued_messages 0\nmax_keepalive 600\nset_tcp_nodelay true\n`);
  return spawn(bin, ['-c', conf], { stdio: 'ignore' });
}

/** The previous design's compiled tree (--previous), or '' for none. */
let previousDist = '';
/** --cpu-prof DIR, or '' for none. */
let profileDir = '';
/** Each service's /metrics port (read for its batch sizes). */
const metricsPorts = new Map<ChildProcess, number>();
/** --service-args, split. */
let serviceArgs: string[] = [];

type Payload = 'json' | 'sparkplug';

async function startService(port: number, naive: boolean, qos: number, previous = false, payload: Payload = 'json'): Promise<ChildProcess> {
  const main = previous ? join(previousDist, 'runtime/cli/main.js') : 'dist/runtime/cli/main.js';
  const sp = payload === 'sparkplug';
  const metricsPort = await freePort();
  const args = [main, 'run', '--broker', `mqtt://127.0.0.1:${port}`, '--client-id', `bench-svc-${naive ? 'naive' : 'batched'}${sp ? '-sparkplug' : ''}-${Date.now()}`, '--clean-start',
    // /metrics is served for the batch-size histogram; the live view beside it stays off, as without a metrics port.
    '--qos', String(qos), '--metrics-port', String(metricsPort), '--view=false', '--watch-model=false', '--log-level', 'warn', '--max-devices', '20000', '--queue-size', '20000'];
  if (naive) args.push('--max-batch', '1', '--max-delay-ms', '0');
  else if (!previous) args.push(...serviceArgs);
  if (sp) args.push('--payload', 'sparkplug', '--name', `bench-sparkplug-${Date.now()}`);
  const nodeFlags = (process.env['BENCH_SERVICE_NODE_FLAGS'] ?? '').split(' ').filter(Boolean);
  if (profileDir !== '') nodeFlags.push('--cpu-prof', `--cpu-prof-dir=${join(profileDir, `qos${qos}-${naive ? 'naive' : previous ? 'previous' : 'current'}${sp ? '-sparkplug' : ''}`)}`);
  const p = spawn(process.execPath, [...nodeFlags, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  metricsPorts.set(p, metricsPort);
  let err = '';
  p.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  p.stdout!.resume();
  // The service logs at warn: wait for its subscription instead, by probing with a reading.
  const probe = await RawMqtt.connect(port, `probe-${Date.now()}`);
  let ready = false;
  probe.onPublish = () => (ready = true);
  await probe.subscribe(sp ? 'edgelstm/Probe_P_probe/result' : 'edgelstm/probe/result', 0);
  for (let i = 0; !ready; i++) {
    if (p.exitCode !== null) throw new Error(`service exited: ${err}`);
    if (i > 600) throw new Error(`service not ready: ${err}`);
    if (sp) {
      // Births each time: the ones sent before the service subscribed are lost.
      probe.add('spBv1.0/Probe/NBIRTH/P', nbirth(TS0), 0);
      probe.add('spBv1.0/Probe/DBIRTH/P/probe', dbirth(TS0, 1, 1), 0);
      probe.add('spBv1.0/Probe/DDATA/P/probe', ddata(TS0 + i, 1, 2), 0);
    } else probe.add('sensors/probe/telemetry', `{"ts":${TS0 + i},"value":1}`, 0);
    probe.flush();
    await new Promise((r) => setTimeout(r, 50));
  }
  await probe.end();
  return p;
}

async function stop(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null) return;
  p.kill('SIGTERM');
  await once(p, 'exit');
}

/** Devices per Sparkplug edge node (each node has its own seq). */
const EDGE_DEVICES = 100;

/** The fleet's readings: device d's k-th reading has ts TS0 + k s, so its result names which reading it answers. */
class Fleet {
  readonly devices: number;
  readonly sparkplug: boolean;
  /** Readings sent so far over the fleet's life; reading n goes to device n % devices. */
  next = 0;
  /** Device ids are `<prefix>d<index>`; a new prefix is a new fleet. */
  prefix = '';
  /** Sparkplug: each edge node's last seq (NBIRTH 0, its DBIRTHs, then one per DDATA). */
  readonly #seq: Uint8Array;
  constructor(devices: number, payload: Payload = 'json') {
    this.devices = devices;
    this.sparkplug = payload === 'sparkplug';
    this.#seq = new Uint8Array(Math.ceil(devices / EDGE_DEVICES));
  }
  topic(n: number): string {
    const d = n % this.devices;
    return this.sparkplug ? `spBv1.0/Plant/DDATA/Edge${Math.floor(d / EDGE_DEVICES)}/d${d}` : `sensors/${this.prefix}d${d}/telemetry`;
  }
  /** Call once per reading, in order (Sparkplug: it takes the edge node's next seq). */
  payload(n: number): string {
    const d = n % this.devices;
    const k = Math.floor(n / this.devices);
    const value = (Math.sin(k / 5 + d) * 10 + 20).toFixed(3);
    if (!this.sparkplug) return `{"ts":${TS0 + k * 1000},"value":${value}}`;
    const e = Math.floor(d / EDGE_DEVICES);
    return ddata(TS0 + k * 1000, Number(value), ++this.#seq[e]!);
  }
  /** Whether a result topic is one of this fleet's (Sparkplug devices are `Plant/Edge<e>/d<d>`: `edgelstm/Plant_Edge<e>_d<d>/result`). */
  owns(topic: string): boolean {
    return topic.startsWith('edgelstm/Plant_') === this.sparkplug;
  }
  /** Sparkplug: NBIRTH of every edge node, DBIRTH of every device (their readings so far as the birth values). */
  async births(pub: RawMqtt, qos: 0 | 1): Promise<void> {
    if (!this.sparkplug) return;
    const acked = pub.acked;
    for (let e = 0; e * EDGE_DEVICES < this.devices; e++) {
      pub.add(`spBv1.0/Plant/NBIRTH/Edge${e}`, nbirth(TS0), qos);
      this.#seq[e] = 0;
      for (let d = e * EDGE_DEVICES; d < Math.min(this.devices, (e + 1) * EDGE_DEVICES); d++) pub.add(`spBv1.0/Plant/DBIRTH/Edge${e}/d${d}`, dbirth(TS0, ++this.#seq[e]!, 20), qos);
      pub.flush();
    }
    const n = this.devices + this.#seq.length;
    for (let i = 0; qos === 1 && pub.acked - acked < n; i++) {
      if (i > 1000) throw new Error(`births: ${pub.acked - acked} of ${n} acknowledged`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

/** Reading number of a result: device from the topic (`edgelstm/d<d>/result`), step from `"ts":`. */
function readingOf(topic: string, payload: Buffer, devices: number): number {
  const slash = topic.indexOf('/', 10);
  const d = Number(topic.slice(topic.lastIndexOf('d', slash) + 1, slash));
  const i = payload.indexOf('"ts":');
  if (i < 0 || !Number.isInteger(d)) return -1;
  let ts = 0;
  for (let j = i + 5; j < payload.length; j++) {
    const c = payload[j]!;
    if (c < 48 || c > 57) break;
    ts = ts * 10 + (c - 48);
  }
  return ((ts - TS0) / 1000) * devices + d;
}

interface Procs {
  service: ChildProcess | undefined;
  broker: ChildProcess;
}

/** One payload's service in a design's run (--payload). */
interface Lane {
  payload: Payload;
  design: string;
  svc: ChildProcess;
  procs: Procs;
  fleet: Fleet;
}

const PAYLOAD_NAMES: Record<Payload, string> = { json: 'JSON', sparkplug: 'Sparkplug B DDATA' };

/**
 * One measurement. `rate` undefined: flood (bounded by the window). Readings
 * go round-robin over the fleet, so each device's arrive in order. `echo`:
 * the subscriber reads the readings themselves (reference row, no service).
 */
async function measure(pub: RawMqtt, sub: RawMqtt, fleet: Fleet, procs: Procs, seconds: number, qos: 0 | 1, window: number, rate: number | undefined, echo = false): Promise<RunStats> {
  if (freshFleet) fleet.prefix = `r${++fleetRuns}`;
  const cap = Math.ceil((rate ?? 1_000_000) * seconds * 1.5) + fleet.devices;
  const base = fleet.next;
  const sentAt = new Float64Array(cap);
  const latencies = new Float64Array(cap);
  let received = 0;
  let sent = 0;
  sub.onPublish = (topic, payload, at) => {
    if (!echo && !fleet.owns(topic)) return; // the other payload's service (--payload json,sparkplug)
    let n: number;
    if (echo) {
      n = readingOf(`edgelstm/${topic.slice(8)}`, payload, fleet.devices);
    } else n = readingOf(topic, payload, fleet.devices);
    const i = n - base;
    if (i < 0 || i >= sent) return; // a late result of an earlier measurement
    latencies[received++] = at - sentAt[i]!;
  };
  const svc = procs.service;
  const counters0 = await serviceCounters(svc?.pid, svc === undefined ? undefined : metricsPorts.get(svc));
  const cpu0 = [cpuSeconds(procs.service?.pid), cpuSeconds(procs.broker.pid), selfCpu(), machineCpu()];
  const { t0, end, last } = await sendReadings(pub, {
    seconds, rate, window, cap, sentAt,
    answered: () => received,
    add: (i) => {
      const r = base + i;
      pub.add(fleet.topic(r), fleet.payload(r), qos);
      sent = i + 1;
    },
  });
  fleet.next = base + sent;
  const wall = (Math.max(last, end) - t0) / 1000;
  const cpu1 = [cpuSeconds(procs.service?.pid), cpuSeconds(procs.broker.pid), selfCpu(), machineCpu()];
  const counters1 = await serviceCounters(svc?.pid, svc === undefined ? undefined : metricsPorts.get(svc));
  // CPU over the whole time it was measured, the wait for late results included.
  const cpuWall = (performance.now() - t0) / 1000;
  sub.onPublish = undefined;
  const lat = latencies.slice(0, received).sort();
  const d = [0, 1, 2, 3].map((i) => (cpu1[i]! - cpu0[i]!) / cpuWall);
  // Everything else: the machine's busy time less ours (other users of a shared machine show up here).
  const other = d[3]! - (Number.isNaN(d[0]!) ? 0 : d[0]!) - d[1]! - d[2]!;
  return {
    sent, received, seconds: wall, p50: quantile(lat, 0.5), p99: quantile(lat, 0.99),
    cpu: [d[0]!, d[1]!, d[2]!, Math.max(0, other)],
    diag: serviceDiag(counters0, counters1, received),
  };
}

const median = (xs: number[]): number => {
  const s = [...xs].filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 ? s[(s.length - 1) >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const fmt = (x: number): string => (Number.isNaN(x) ? '-' : Math.round(x).toLocaleString('en'));
const ms = (x: number): string => (Number.isNaN(x) ? '-' : x < 10 ? x.toFixed(2) : x.toFixed(1));
const svcUs = (runs: RunStats[]): number => median(runs.map((r) => (r.cpu[0] / (r.received / r.seconds)) * 1e6));
const cpuCell = (runs: RunStats[]): string => [0, 1, 2, 3].map((i) => (Number.isNaN(median(runs.map((r) => r.cpu[i]!))) ? '-' : median(runs.map((r) => r.cpu[i]!)).toFixed(2))).join(' / ');

const diagOf = (runs: RunStats[]): ServiceDiag => {
  const m = (f: (d: ServiceDiag) => number): number => median(runs.map((r) => f(r.diag)));
  return { batch: m((d) => d.batch), readsPerMsg: m((d) => d.readsPerMsg), writesPerMsg: m((d) => d.writesPerMsg), wakeupsPerMsg: m((d) => d.wakeupsPerMsg), systemShare: m((d) => d.systemShare) };
};

interface Row {
  qos: number;
  devices: number | string;
  design: string;
  load: string;
  offered: string;
  achieved: number;
  p50: number;
  p99: number;
  cpu: string;
  /** Service CPU per message, µs (its cores / achieved msg/s). */
  svcUs: number;
  /** Medians of the runs' service diagnostics. */
  diag?: ServiceDiag;
  lost: number;
  /** With --payload: the readings' payload and the design without it. */
  payload?: Payload;
  base?: string;
}

async function main(): Promise<void> {
  const { values: o } = parseArgs(process.argv.slice(2), SPECS);
  previousDist = o.previous ?? '';
  profileDir = o['cpu-prof'] ?? '';
  serviceArgs = (o['service-args'] ?? '').split(' ').filter(Boolean);
  const qosList = o.qos.map((q) => Number(q) as 0 | 1);
  if (qosList.some((q) => q !== 0 && q !== 1)) throw new Error('--qos: 0 and/or 1');
  const fractions = o.fractions.map(Number);
  freshFleet = o['fresh-fleet'];
  const payloads = o.payload.map((p) => p.trim()) as Payload[];
  for (const p of payloads) if (p !== 'json' && p !== 'sparkplug') throw new Error(`--payload: json and/or sparkplug, found ${JSON.stringify(p)}`);
  if (new Set(payloads).size !== payloads.length || payloads.length === 0) throw new Error(`--payload: each of json, sparkplug at most once, found ${payloads.join(',')}`);
  const sparkplug = payloads.includes('sparkplug');
  if (sparkplug && freshFleet) throw new Error('--fresh-fleet with --payload sparkplug: new devices would need births each measurement (not supported)');
  if (sparkplug) checkDdataEncoder();
  const dir = mkdtempSync(join(tmpdir(), 'edgelstm-bench-mqtt-'));
  const port = await freePort();
  const broker = startMosquitto(o.mosquitto, dir, port);
  await new Promise((r) => setTimeout(r, 300));
  if (broker.exitCode !== null) throw new Error(`mosquitto (${o.mosquitto}) did not start`);
  const cores = cpus().length;
  process.stdout.write(`MQTT bench: Mosquitto on 127.0.0.1:${port}; ${o.seconds} s per measurement, median of ${o.repeats}; window ${o.window} readings in flight (capacity runs)\n`);
  if (freshFleet) process.stdout.write('Fresh fleet: new device ids for every measurement (devices beyond --max-devices 20000 evict the least recently used).\n');
  process.stdout.write(`Machine: ${cores} x ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}. The ${cores} cores are shared by Mosquitto, the service and this load generator: CPU columns are cores used (service / broker / bench / other processes on the machine). Load average at start: ${loadavg().map((x) => x.toFixed(2)).join(' ')}.\n\n`);
  const rows: Row[] = [];
  const verdicts: string[] = [];
  let seq = 0;
  const row = (r: Row): void => {
    rows.push(r);
    process.stderr.write(`  ${r.qos} ${r.devices} ${r.design} ${r.load} ${r.offered}: ${fmt(r.achieved)} msg/s p50 ${ms(r.p50)} p99 ${ms(r.p99)} cpu ${r.cpu} svc ${r.svcUs.toFixed(1)} us/msg\n`);
  };
  try {
    for (const qos of qosList) {
      // Reference: the load generator against Mosquitto alone (readings straight back to the subscriber).
      {
        const pub = await RawMqtt.connect(port, `bench-pub-${seq++}`);
        const sub = await RawMqtt.connect(port, `bench-sub-${seq++}`);
        await sub.subscribe('sensors/+/telemetry', qos);
        const fleet = new Fleet(1000);
        const procs: Procs = { service: undefined, broker };
        await measure(pub, sub, fleet, procs, 1, qos, o.window, undefined, true);
        const runs: RunStats[] = [];
        for (let r = 0; r < o.repeats; r++) runs.push(await measure(pub, sub, fleet, procs, o.seconds, qos, o.window, undefined, true));
        row({ qos, devices: '-', design: 'reference: load generator + Mosquitto, no service', load: 'flood', offered: '-', achieved: median(runs.map((s) => s.received / s.seconds)), p50: NaN, p99: NaN, cpu: cpuCell(runs), svcUs: svcUs(runs), lost: runs.reduce((a, s) => a + s.sent - s.received, 0) });
        await pub.end();
        await sub.end();
      }
      for (const devStr of o.devices) {
        const devices = Number(devStr);
        const capacity: Record<string, number> = {};
        const usPerMsg: Record<string, number> = {};
        const designs: ('batched' | 'naive' | 'previous')[] = ['batched', ...(previousDist !== '' ? ['previous' as const] : []), ...(o.naive ? ['naive' as const] : [])];
        for (const which of designs) {
          const naive = which === 'naive';
          const base = naive ? 'naive (1 ORT call/msg)' : which === 'previous' ? 'previous design (micro-batched)' : 'micro-batched';
          // One service per payload, all running; one publisher and one subscriber shared (results told apart by topic).
          const lanes: Lane[] = [];
          const pub = await RawMqtt.connect(port, `bench-pub-${seq++}`);
          const sub = await RawMqtt.connect(port, `bench-sub-${seq++}`);
          try {
            for (const payload of payloads) {
              const svc = await startService(port, naive, qos, which === 'previous', payload);
              lanes.push({ payload, design: payloads.length > 1 ? `${base}, ${PAYLOAD_NAMES[payload]}` : base, svc, procs: { service: svc, broker }, fleet: new Fleet(devices, payload) });
            }
            await sub.subscribe('edgelstm/+/result', qos);
            for (const l of lanes) {
              await l.fleet.births(pub, qos);
              // Warm-up: every device's first readings allocate its state; JIT settles.
              await measure(pub, sub, l.fleet, l.procs, 2, qos, o.window, undefined);
            }
            // Repeats interleaved over the payloads, so their ratio compares runs of the same moment.
            const floods: RunStats[][] = lanes.map(() => []);
            for (let r = 0; r < o.repeats; r++) for (const [i, l] of lanes.entries()) floods[i]!.push(await measure(pub, sub, l.fleet, l.procs, o.seconds, qos, o.window, undefined));
            const caps = lanes.map((l, i) => {
              const f = floods[i]!;
              const cap = median(f.map((s) => s.received / s.seconds));
              if (l.payload === payloads[0]) {
                capacity[base] = cap;
                usPerMsg[base] = svcUs(f);
              }
              row({ qos, devices, design: l.design, load: 'capacity (flood)', offered: '-', achieved: cap, p50: NaN, p99: NaN, cpu: cpuCell(f), svcUs: svcUs(f), diag: diagOf(f), lost: f.reduce((a, s) => a + s.sent - s.received, 0), payload: l.payload, base });
              return cap;
            });
            const labels = fractions.map((f) => `${Math.round(f * 100)}% of capacity`);
            if (caps.some((c) => c >= o.target)) labels.push('target');
            // Paced: every payload at the same rate (a fraction of the lowest capacity), so CPU per message compares like with like.
            const slowest = Math.min(...caps);
            for (const label of labels) {
              const rates = lanes.map((_, i) => (label === 'target' ? (caps[i]! >= o.target ? o.target : undefined) : Math.max(100, Math.round(fractions[labels.indexOf(label)]! * slowest))));
              const paced: RunStats[][] = lanes.map(() => []);
              for (let r = 0; r < o.repeats; r++) {
                for (const [i, l] of lanes.entries()) {
                  const rate = rates[i];
                  if (rate !== undefined) paced[i]!.push(await measure(pub, sub, l.fleet, l.procs, o.seconds, qos, o.window, rate));
                }
              }
              for (const [i, l] of lanes.entries()) {
                const rate = rates[i];
                const runs = paced[i]!;
                if (rate === undefined) continue;
                const achieved = median(runs.map((s) => s.received / s.seconds));
                row({ qos, devices, design: l.design, load: `paced, ${label}`, offered: fmt(rate), achieved, p50: median(runs.map((s) => s.p50)), p99: median(runs.map((s) => s.p99)), cpu: cpuCell(runs), svcUs: svcUs(runs), diag: diagOf(runs), lost: runs.reduce((a, s) => a + s.sent - s.received, 0), payload: l.payload, base });
                if (which === 'batched' && label === 'target' && l.payload === payloads[0]) {
                  const p99 = median(runs.map((s) => s.p99));
                  verdicts.push(`QoS ${qos}, ${devices} devices: p99 at ${fmt(rate)}/s offered = ${ms(p99)} ms (${p99 < 50 && achieved >= 0.95 * rate ? 'met' : 'not met'}: < 50 ms)`);
                }
              }
            }
          } finally {
            await pub.end();
            await sub.end();
            for (const l of lanes) await stop(l.svc);
          }
        }
        const b = capacity['micro-batched'];
        const n = capacity['naive (1 ORT call/msg)'];
        if (b !== undefined) {
          const cpuRatio = (usPerMsg['naive (1 ORT call/msg)'] ?? NaN) / (usPerMsg['micro-batched'] ?? NaN);
          const ratio = n !== undefined ? ` ; micro-batched / naive = ${(b / n).toFixed(2)}x (${b >= 3 * n ? 'met' : 'not met'}: >= 3x); service CPU per message, naive / micro-batched = ${cpuRatio.toFixed(2)}x` : '';
          const prev = capacity['previous design (micro-batched)'];
          const vsPrev = prev !== undefined ? `; current / previous design: capacity ${(b / prev).toFixed(2)}x, service CPU per message ${((usPerMsg['micro-batched'] ?? NaN) / (usPerMsg['previous design (micro-batched)'] ?? NaN)).toFixed(2)}x` : '';
          verdicts.push(`QoS ${qos}, ${devices} devices: capacity ${fmt(b)} msg/s (${b >= 50_000 ? 'met' : 'not met'}: >= 50,000)${ratio}${vsPrev}${b < o.target ? `; p99 at ${fmt(o.target)}/s not measured: above capacity` : ''}`);
        }
      }
    }
  } finally {
    broker.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write('| QoS | devices | design | load | offered msg/s | achieved msg/s | p50 ms | p99 ms | CPU cores svc / broker / bench / other | service CPU µs/msg | without result after 10 s |\n|---|---|---|---|---|---|---|---|---|---|---|\n');
  for (const r of rows) process.stdout.write(`| ${r.qos} | ${typeof r.devices === 'number' ? r.devices.toLocaleString('en') : r.devices} | ${r.design} | ${r.load} | ${r.offered} | ${fmt(r.achieved)} | ${ms(r.p50)} | ${ms(r.p99)} | ${r.cpu} | ${Number.isNaN(r.svcUs) ? '-' : r.svcUs.toFixed(1)} | ${r.lost} |\n`);
  // Per message in the service: fixed costs paid per batch, per socket read or write, per wake-up.
  process.stdout.write('\n| QoS | devices | design | load | service CPU µs/msg | readings per ONNX Runtime call | read syscalls/msg | write syscalls/msg | wake-ups/msg | kernel share of service CPU |\n|---|---|---|---|---|---|---|---|---|---|\n');
  const f2 = (x: number | undefined, d: number): string => (x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(d));
  for (const r of rows) {
    if (r.diag === undefined) continue;
    const g = r.diag;
    process.stdout.write(`| ${r.qos} | ${typeof r.devices === 'number' ? r.devices.toLocaleString('en') : r.devices} | ${r.design} | ${r.load} | ${f2(r.svcUs, 1)} | ${f2(g.batch, 1)} | ${f2(g.readsPerMsg, 3)} | ${f2(g.writesPerMsg, 3)} | ${f2(g.wakeupsPerMsg, 3)} | ${f2(g.systemShare * 100, 0)}% |\n`);
  }
  if (payloads.length > 1) {
    // The payloads side by side: the service's CPU per message of the same design and load, measured interleaved.
    process.stdout.write('\n| QoS | devices | design | load | JSON: msg/s, service CPU µs/msg | Sparkplug B: msg/s, service CPU µs/msg | service CPU per message, sparkplug / json |\n|---|---|---|---|---|---|---|\n');
    for (const j of rows) {
      if (j.payload !== 'json') continue;
      const s = rows.find((r) => r.payload === 'sparkplug' && r.qos === j.qos && r.devices === j.devices && r.base === j.base && r.load === j.load);
      if (s === undefined) continue;
      const us = (r: Row): string => (Number.isNaN(r.svcUs) ? '-' : r.svcUs.toFixed(1));
      process.stdout.write(`| ${j.qos} | ${typeof j.devices === 'number' ? j.devices.toLocaleString('en') : j.devices} | ${j.base} | ${j.load} | ${fmt(j.achieved)}, ${us(j)} | ${fmt(s.achieved)}, ${us(s)} | ${(s.svcUs / j.svcUs).toFixed(2)}x |\n`);
    }
  }
  process.stdout.write(`\n${verdicts.join('\n')}\nLoad average at the end: ${loadavg().map((x) => x.toFixed(2)).join(' ')}.\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 1;
});
