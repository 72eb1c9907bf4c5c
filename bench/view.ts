/**
 * What the live view costs the service: `npm run build && node dist/bench/view.js [-- --devices 10000 --seconds 5 --repeats 3 --rate 2000]`.
 *
 * Mosquitto on a free port; the service (the compiled CLI, its own process)
 * started three times on the same fleet: --view=false (off), view on with no
 * page open, and view on with a page open (an event-stream client in this
 * process, following one device and the fleet table, reading every byte).
 * Per configuration, after a warm-up that brings every device into the view:
 * a paced run (--rate readings/s, the same for all three: CPU per message at
 * equal load) and a flood run (capacity), each repeated; medians reported.
 * Service CPU per message = the service's CPU seconds (from /proc) / results;
 * its main thread's alone beside it (the rest is V8's helper threads, GC
 * among them, and the thread pools). The configurations run round-robin, one
 * measurement each in turn, so drift of a shared machine falls on all three
 * alike; the paired ratios divide each round's figure by off's in the same
 * round before taking the median. --trace-gc counts the services'
 * collections per run; --cpu-prof DIR writes their CPU profiles.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { get, type IncomingMessage } from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, type OptionSpecs } from '../runtime/cli/args';
import { freePort } from '../runtime/net/free-port';
import { RawMqtt, sendReadings } from './mqtt-load';
import { cpuSeconds } from './proc-cpu';
import { BatchResults, ResultColumns } from '../runtime/engine/batch-results';
import { FleetView } from '../runtime/view';

const SPECS = {
  devices: { type: 'number', integer: true, min: 1, description: 'fleet size', default: 10000 },
  seconds: { type: 'number', min: 1, description: 'length of each measurement', default: 5 },
  repeats: { type: 'number', integer: true, min: 1, description: 'repeats of each measurement (median reported)', default: 3 },
  rate: { type: 'number', min: 100, description: 'paced rate, readings/s (below the capacity: the three configurations at equal load)', default: 2000 },
  window: { type: 'number', integer: true, min: 100, description: 'readings without a result at most (flood)', default: 20000 },
  mosquitto: { type: 'string', description: 'mosquitto binary', default: '/usr/sbin/mosquitto' },
  'cpu-prof': { type: 'string', description: 'write each service\'s V8 CPU profile (node --cpu-prof) into this folder', placeholder: 'DIR' },
  order: { type: 'string', choices: ['random', 'in-order'], description: 'the order devices report in within a round: a new random one each round (as a fleet does), or by device number', default: 'random' },
  'trace-gc': { type: 'boolean', description: 'run the services with node --trace-gc and report their garbage collections per measurement', default: false },
} satisfies OptionSpecs;

const TS0 = 1_700_000_000_000;

/** CPU seconds of a process's main thread (the JavaScript one; the others are V8's helpers, the libuv pool, ONNX Runtime's). */
function mainThreadCpu(pid: number | undefined): number {
  return pid === undefined ? NaN : cpuSeconds(pid, pid);
}
type Config = 'off' | 'on, no page' | 'on, page open';
const CONFIGS: Config[] = ['off', 'on, no page', 'on, page open'];

/** Garbage collections seen on a service's --trace-gc output so far. */
interface GcCount {
  scavenges: number;
  scavengeMs: number;
  /** Mark-compact (and its incremental/concurrent finalization) pauses. */
  markCompacts: number;
  markCompactMs: number;
  /** Heap used after the last mark-compact (what lives), MB. */
  heapMb: number;
}

const GC_LINE = /: (Scavenge|Mark-Compact|Mark-sweep|Minor Mark-Compact|Minor Mark-Sweep)\b[^,]*-> ([\d.]+) \([\d.]+\) MB, ([\d.]+) \/ [\d.]+ ms/;

function countGc(gc: GcCount, line: string): void {
  const m = GC_LINE.exec(line);
  if (m === null) return;
  const ms = Number(m[3]);
  if (m[1] === 'Scavenge' || m[1]!.startsWith('Minor')) {
    gc.scavenges++;
    gc.scavengeMs += ms;
  } else {
    gc.markCompacts++;
    gc.markCompactMs += ms;
    gc.heapMb = Number(m[2]);
  }
}

interface Service {
  proc: ChildProcess;
  gc: GcCount;
  httpPort: number;
  page: IncomingMessage | undefined;
  pageBytes: number;
}

/** Each configuration's service has topics of its own (`<prefix>/...`): only the one measured works. */
async function startService(brokerPort: number, devices: number, config: Config, prefix: string, profDir: string | undefined, traceGc: boolean): Promise<Service> {
  const httpPort = await freePort();
  const prof = profDir !== undefined ? ['--cpu-prof', '--cpu-prof-dir', profDir, '--cpu-prof-name', `${config.replace(/\W+/g, '-')}.cpuprofile`] : [];
  const args = [...prof, ...(traceGc ? ['--trace-gc'] : []), 'dist/runtime/cli/main.js', 'run', '--broker', `mqtt://127.0.0.1:${brokerPort}`, '--client-id', `bench-view-${Date.now()}-${Math.random()}`, '--clean-start',
    '--qos', '0', '--metrics-port', String(httpPort), '--watch-model=false', '--log-level', 'warn', '--max-devices', String(Math.max(20000, devices * 2)), '--queue-size', '20000',
    '--view-devices', String(devices), '--input', `${prefix}/{device}/telemetry`, '--output', `${prefix}/{device}/result`, '--anomaly-topic', `${prefix}/{device}/anomaly`, ...(config === 'off' ? ['--view=false'] : [])];
  const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  proc.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  const gc: GcCount = { scavenges: 0, scavengeMs: 0, markCompacts: 0, markCompactMs: 0, heapMb: NaN };
  let partial = '';
  proc.stdout!.on('data', (b: Buffer) => {
    const lines = (partial + b.toString()).split('\n');
    partial = lines.pop()!;
    for (const l of lines) countGc(gc, l);
  });
  const probe = await RawMqtt.connect(brokerPort, `probe-${Date.now()}`);
  let ready = false;
  probe.onPublish = () => (ready = true);
  await probe.subscribe(`${prefix}/probe/result`, 0);
  for (let i = 0; !ready; i++) {
    if (proc.exitCode !== null) throw new Error(`service exited: ${err}`);
    if (i > 600) throw new Error(`service not ready: ${err}`);
    probe.add(`${prefix}/probe/telemetry`, `{"ts":${TS0 + i},"value":1}`, 0);
    probe.flush();
    await new Promise((r) => setTimeout(r, 50));
  }
  await probe.end();
  return { proc, gc, httpPort, page: undefined, pageBytes: 0 };
}

/** An open page: the event stream of the fleet table and one device's chart, read to the end. */
async function openPage(s: Service): Promise<void> {
  s.page = await new Promise<IncomingMessage>((resolve, reject) => get(`http://127.0.0.1:${s.httpPort}/view/events?device=d0`, resolve).on('error', reject));
  if (s.page.statusCode !== 200) throw new Error(`/view/events: HTTP ${s.page.statusCode}`);
  s.page.on('data', (b: Buffer) => (s.pageBytes += b.length));
}

async function stop(s: Service): Promise<void> {
  s.page?.destroy();
  if (s.proc.exitCode !== null) return;
  s.proc.kill('SIGTERM');
  await once(s.proc, 'exit');
}

interface Run {
  results: number;
  seconds: number;
  cpuUsPerMsg: number;
  /** The same for the main thread alone. */
  mainUsPerMsg: number;
  /** The service's collections during the run (zeros without --trace-gc). */
  gc: GcCount;
}

/**
 * Device d's k-th reading: ts TS0 + k s; a sine per device. Every device reports once per round (round k: its
 * k-th reading); within a round in device order, or (`random`) in a new order each round, as devices with
 * clocks of their own report (the same orders for every configuration: a seeded generator per fleet).
 */
class Fleet {
  next = 0;
  readonly #order: Uint32Array;
  #round = -1;
  #seed = 12345;
  constructor(readonly devices: number, readonly prefix: string, readonly random: boolean) {
    this.#order = Uint32Array.from({ length: devices }, (_, d) => d);
  }
  device(n: number): number {
    if (!this.random) return n % this.devices;
    const k = Math.floor(n / this.devices);
    while (this.#round < k) {
      const o = this.#order;
      for (let i = o.length - 1; i > 0; i--) {
        this.#seed = (Math.imul(this.#seed, 1103515245) + 12345) >>> 0;
        const j = this.#seed % (i + 1);
        [o[i], o[j]] = [o[j]!, o[i]!];
      }
      this.#round++;
    }
    return this.#order[n % this.devices]!;
  }
  topic(n: number): string {
    return `${this.prefix}/d${this.device(n)}/telemetry`;
  }
  payload(n: number): string {
    const d = this.device(n);
    const k = Math.floor(n / this.devices);
    return `{"ts":${TS0 + k * 1000},"value":${(Math.sin(k / 5 + d) * 10 + 20).toFixed(3)}}`;
  }
}

async function measure(pub: RawMqtt, sub: RawMqtt, fleet: Fleet, s: Service, seconds: number, rate: number | undefined, window: number): Promise<Run> {
  const cap = Math.ceil((rate ?? 1_000_000) * seconds * 1.5) + fleet.devices;
  const sentAt = new Float64Array(cap);
  let received = 0;
  sub.onPublish = () => void received++;
  const base = fleet.next;
  const gc0 = { ...s.gc };
  const cpu0 = cpuSeconds(s.proc.pid);
  const main0 = mainThreadCpu(s.proc.pid);
  const t0 = performance.now();
  const r = await sendReadings(pub, { seconds, rate, window, cap, sentAt, answered: () => received, add: (i) => pub.add(fleet.topic(base + i), fleet.payload(base + i), 0) });
  fleet.next = base + r.sent;
  const cpu = cpuSeconds(s.proc.pid) - cpu0;
  const main = mainThreadCpu(s.proc.pid) - main0;
  sub.onPublish = undefined;
  await new Promise((res) => setTimeout(res, 50)); // the last collections' lines
  const gc: GcCount = { scavenges: s.gc.scavenges - gc0.scavenges, scavengeMs: s.gc.scavengeMs - gc0.scavengeMs, markCompacts: s.gc.markCompacts - gc0.markCompacts, markCompactMs: s.gc.markCompactMs - gc0.markCompactMs, heapMb: s.gc.heapMb };
  return { results: received, seconds: (Math.max(r.last, r.end) - t0) / 1000, cpuUsPerMsg: (cpu / Math.max(1, received)) * 1e6, mainUsPerMsg: (main / Math.max(1, received)) * 1e6, gc };
}

/**
 * The view's own work per result, in this process (no MQTT, no engine): FleetView.recordRow over
 * `devices` devices in engine-sized batches of 64 rows, every ring full (as in a service that has
 * run a while), the devices in order or in a new random order each pass (as a fleet reports: what a
 * result costs is then the cache lines it misses). Resolves what the service-level ratios cannot
 * on a shared machine.
 */
function recordRowNs(devices: number, repeats: number, shuffled: boolean): number[] {
  const view = new FleetView({ shape: () => ({ targets: ['value'], targetIndex: [0] }), info: () => ({ model: 'm', backend: 'x', devices }) }, { devices });
  const B = 64;
  const PASSES = 10;
  const cols = new ResultColumns(B, 1, 1);
  const batch = new BatchResults(cols, ['value'], 1);
  for (let i = 0; i < B; i++) {
    cols.hasForecast[i] = 1;
    cols.expected[i] = 20;
    cols.error[i] = 0.5;
    cols.score[i] = 0.5;
    cols.likelihood[i] = 0.5;
    cols.forecast[i] = 20.1;
  }
  const order = Array.from({ length: devices }, (_, d) => d);
  /** One pass's batches: every device once, a fresh sample each (ids made anew, as the service parses them from topics). */
  const batches = (): { sample: { device: string; values: number[] }; ts: number }[][] => {
    if (shuffled) {
      for (let i = devices - 1; i > 0; i--) {
        const j = Math.floor(Math.random() * (i + 1));
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
    }
    const out = [];
    for (let d = 0; d < devices; d += B) out.push(order.slice(d, d + B).map((k) => ({ sample: { device: `d${k}`, values: [20 + (k % 7)] }, ts: TS0 })));
    return out;
  };
  const pass = (bs: ReturnType<typeof batches>): void => {
    for (const rows of bs) {
      batch.reset(rows, 'm');
      for (let i = 0; i < batch.size; i++) view.recordRow(batch, i);
    }
  };
  for (let k = 0; k < view.points; k++) pass(batches()); // every ring full
  const out: number[] = [];
  for (let r = 0; r < repeats; r++) {
    const passes = Array.from({ length: PASSES }, batches);
    const t0 = process.cpuUsage();
    for (const bs of passes) pass(bs);
    const u = process.cpuUsage(t0);
    out.push(((u.user + u.system) * 1000) / (PASSES * devices));
  }
  return out;
}

/** Round r's figure over the off service's in the same round, the median of those ratios (drift of a shared machine cancels). */
const pairedRatio = (xs: Run[], off: Run[], f: (r: Run) => number): number => median(xs.map((x, r) => f(x) / f(off[r]!)));

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main(): Promise<void> {
  const { values: o } = parseArgs(process.argv.slice(2), SPECS);
  const dir = mkdtempSync(join(tmpdir(), 'edgelstm-bench-view-'));
  const port = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_inflight_messages 0\nmax_queued_messages 0\nset_tcp_nodelay true\n`);
  const broker = spawn(o.mosquitto, ['-c', conf], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 300));
  if (broker.exitCode !== null) throw new Error(`mosquitto (${o.mosquitto}) did not start`);
  process.stdout.write(`Live view bench: ${o.devices.toLocaleString('en')} devices reporting ${o.order === 'random' ? 'in a new random order each round' : 'in device order'}, QoS 0, Mosquitto on 127.0.0.1:${port}; ${o.seconds} s per measurement, median of ${o.repeats}, configurations round-robin.\n`);
  process.stdout.write(`Machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}.\n\n`);
  const services = new Map<Config, { s: Service; pub: RawMqtt; sub: RawMqtt; fleet: Fleet; paced: Run[]; flood: Run[] }>();
  let seq = 0;
  try {
    for (const c of CONFIGS) {
      const prefix = `v${seq}`;
      const s = await startService(port, o.devices, c, prefix, o['cpu-prof'], o['trace-gc']);
      const pub = await RawMqtt.connect(port, `bench-view-pub-${seq++}`);
      const sub = await RawMqtt.connect(port, `bench-view-sub-${seq++}`);
      await sub.subscribe(`${prefix}/+/result`, 0);
      const fleet = new Fleet(o.devices, prefix, o.order === 'random');
      // Warm-up: every device's state and view track allocated, JIT settled.
      await measure(pub, sub, fleet, s, 3, undefined, o.window);
      if (c === 'on, page open') await openPage(s);
      services.set(c, { s, pub, sub, fleet, paced: [], flood: [] });
    }
    // Only one service is fed at a time; the others idle (a page open on one of them costs it a tick a second).
    for (let r = 0; r < o.repeats; r++) {
      for (const c of CONFIGS) {
        const x = services.get(c)!;
        x.paced.push(await measure(x.pub, x.sub, x.fleet, x.s, o.seconds, o.rate, o.window));
        x.flood.push(await measure(x.pub, x.sub, x.fleet, x.s, o.seconds, undefined, o.window));
        process.stderr.write(`  ${c}: paced ${x.paced.at(-1)!.cpuUsPerMsg.toFixed(1)} us/msg, flood ${Math.round(x.flood.at(-1)!.results / x.flood.at(-1)!.seconds)} msg/s ${x.flood.at(-1)!.cpuUsPerMsg.toFixed(1)} us/msg (main thread ${x.flood.at(-1)!.mainUsPerMsg.toFixed(1)})${o['trace-gc'] ? `, ${x.flood.at(-1)!.gc.scavenges} scavenges ${x.flood.at(-1)!.gc.scavengeMs.toFixed(0)} ms, ${x.flood.at(-1)!.gc.markCompacts} mark-compacts ${x.flood.at(-1)!.gc.markCompactMs.toFixed(0)} ms` : ''}\n`);
      }
    }
    const off = services.get('off')!;
    const offPaced = median(off.paced.map((x) => x.cpuUsPerMsg));
    const offFlood = median(off.flood.map((x) => x.cpuUsPerMsg));
    const offMain = median(off.flood.map((x) => x.mainUsPerMsg));
    process.stdout.write(`Ratios to off: of the medians, and (paired) the median of each round's ratio to off's run in the same round.\n\n`);
    process.stdout.write(`| view | paced ${o.rate.toLocaleString('en')}/s: results/s | paced: service CPU µs/msg | vs off | paired | flood: results/s | flood: service CPU µs/msg | vs off | paired | flood: main thread µs/msg | vs off | paired | page bytes/s |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n`);
    for (const c of CONFIGS) {
      const x = services.get(c)!;
      const p = median(x.paced.map((y) => y.cpuUsPerMsg));
      const f = median(x.flood.map((y) => y.cpuUsPerMsg));
      const m = median(x.flood.map((y) => y.mainUsPerMsg));
      const rate = median(x.paced.map((y) => y.results / y.seconds));
      const cap = median(x.flood.map((y) => y.results / y.seconds));
      const secs = [...x.paced, ...x.flood].reduce((a, y) => a + y.seconds, 0);
      const paired = (runs: Run[], offRuns: Run[], g: (r: Run) => number): string => `${pairedRatio(runs, offRuns, g).toFixed(3)}x`;
      process.stdout.write(`| ${c} | ${Math.round(rate).toLocaleString('en')} | ${p.toFixed(1)} | ${(p / offPaced).toFixed(3)}x | ${paired(x.paced, off.paced, (y) => y.cpuUsPerMsg)} | ${Math.round(cap).toLocaleString('en')} | ${f.toFixed(1)} | ${(f / offFlood).toFixed(3)}x | ${paired(x.flood, off.flood, (y) => y.cpuUsPerMsg)} | ${m.toFixed(1)} | ${(m / offMain).toFixed(3)}x | ${paired(x.flood, off.flood, (y) => y.mainUsPerMsg)} | ${c === 'on, page open' ? Math.round(x.s.pageBytes / secs).toLocaleString('en') : '-'} |\n`);
    }
    if (o['trace-gc']) {
      process.stdout.write(`\nGarbage collection in the flood runs (node --trace-gc; medians per run; pause ms are the main thread's):\n\n| view | scavenges per 10k results | scavenge ms per 10k results | mark-compacts per run | mark-compact ms per run | heap after the last mark-compact, MB |\n|---|---|---|---|---|---|\n`);
      for (const c of CONFIGS) {
        const fl = services.get(c)!.flood;
        const per = (f: (g: GcCount) => number): number => median(fl.map((y) => (f(y.gc) * 10_000) / Math.max(1, y.results)));
        process.stdout.write(`| ${c} | ${per((g) => g.scavenges).toFixed(1)} | ${per((g) => g.scavengeMs).toFixed(1)} | ${median(fl.map((y) => y.gc.markCompacts)).toFixed(1)} | ${median(fl.map((y) => y.gc.markCompactMs)).toFixed(1)} | ${fl.at(-1)!.gc.heapMb.toFixed(1)} |\n`);
      }
    }
    for (const shuffled of [false, true]) {
      const ns = recordRowNs(o.devices, o.repeats, shuffled);
      const rec = median(ns);
      process.stdout.write(`${shuffled ? '' : '\n'}The view's own work per result (FleetView.recordRow in this process, ${o.devices.toLocaleString('en')} devices ${shuffled ? 'in a random order' : 'in order'}, rings full, median of ${o.repeats}: ${ns.map((x) => x.toFixed(0)).join(', ')} ns): ${rec.toFixed(0)} ns, ${((rec / 1000 / offFlood) * 100).toFixed(1)}% of the off service's flood CPU per message.\n`);
    }
    const verdict = (c: Config): string => {
      const x = services.get(c)!;
      const p = pairedRatio(x.paced, off.paced, (y) => y.cpuUsPerMsg);
      const f = pairedRatio(x.flood, off.flood, (y) => y.cpuUsPerMsg);
      return `${c}: paced ${p.toFixed(3)}x (${p <= 1.1 ? 'met' : 'not met'}), flood ${f.toFixed(3)}x (${f <= 1.1 ? 'met' : 'not met'})`;
    };
    process.stdout.write(`\nTarget (service CPU per message with the view on at most 10% above off; paired ratios): ${verdict('on, page open')}; ${verdict('on, no page')}. Load average at the end: ${loadavg().map((x) => x.toFixed(2)).join(' ')}.\n`);
  } finally {
    for (const x of services.values()) {
      await x.pub.end().catch(() => undefined);
      await x.sub.end().catch(() => undefined);
      await stop(x.s);
    }
    broker.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 1;
});
