/**
 * Cluster mode over NATS JetStream: `npm run bench:cluster [-- --devices 10000 --readings 4 --instances 1,2,3 --takeovers 5]`.
 *
 * Starts its own nats-server (JetStream, MQTT listener, the partition mapping)
 * on free ports for every row. Readings go in over MQTT QoS 1 as devices send
 * them (NATS's MQTT listener, mapped into partitions); results are counted on
 * a NATS subscription.
 *
 * - Throughput: the whole fleet's readings with 1, 2 and 3 `edgelstm run
 *   --cluster` instances, and the single-instance service (`edgelstm run
 *   --broker` on the same NATS MQTT listener) in the same run; results/s, CPU
 *   seconds per message of the instances together and of nats-server, and the
 *   instances' idle CPU. `--previous DIST` (bench/build-previous.sh) also runs
 *   every instance count with an earlier build, alternating with the current
 *   one; `--rounds N` repeats the rows and prints medians of the per-round ratios.
 * - Takeover: 3 instances, readings paced; kill -9 one instance, measure from
 *   the kill to the first result of a reading published after it, for every
 *   device (the dead instance's devices wait for the lease to lapse); the
 *   worst device of each kill, p50/p99 over --takeovers kills.
 * - Snapshots: size and time per partition snapshot (from /health).
 * - A projection for 1M devices at 0.1 Hz from the measured costs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { connect, type NatsConnection } from 'nats';
import { formatHelp, parseArgs, type OptionSpecs } from '../runtime/cli/args';
import { freePort } from '../runtime/net/free-port';
import { startNatsCluster, stopNode, type NatsNode } from './nats-server';
import { contextSwitches, cpuSeconds, quantile } from './proc-cpu';
import type { PartitionStart } from '../runtime/cluster/partition-starts';

const SPECS = {
  devices: { type: 'number', integer: true, min: 1, description: 'fleet size', default: 10000 },
  readings: { type: 'number', integer: true, min: 1, description: 'readings per device in a throughput row', default: 4 },
  instances: { type: 'list', description: 'instance counts of the throughput rows', default: ['1', '2', '3'] },
  partitions: { type: 'number', integer: true, min: 1, description: 'partitions', default: 64 },
  takeovers: { type: 'number', integer: true, min: 0, description: 'kill -9 takeovers measured', default: 5 },
  'takeover-devices': { type: 'number', integer: true, min: 1, description: 'devices during takeovers', default: 10000 },
  'takeover-rate': { type: 'number', min: 10, description: 'readings/s during takeovers', default: 1000 },
  'lease-ttl-ms': { type: 'number', integer: true, min: 150, description: 'lease time to live', default: 3000 },
  previous: { type: 'string', description: 'also run the throughput rows with the previous design: the dist/ of an earlier commit (bench/build-previous.sh makes one), alternating with the current one', placeholder: 'DIST' },
  rounds: { type: 'number', integer: true, min: 1, description: 'throughput rounds (single, then each instance count, current and previous alternating); ratios are medians over rounds', default: 1 },
  'instance-args': { type: 'string', description: 'more options for the current design\'s cluster instances (`edgelstm run --cluster`), space-separated (e.g. "--max-delay-ms 10")' },
  'cpu-prof': { type: 'string', description: 'write a V8 CPU profile of every instance of the throughput rows into this folder (instances stopped with SIGTERM)', placeholder: 'DIR' },
} satisfies OptionSpecs;

/** Node flags of the instances: a CPU profile each when --cpu-prof DIR is given. */
let nodeFlags: string[] = [];
/** More options for the current design's instances (--instance-args). */
let instanceArgs: string[] = [];

const CLI = join(__dirname, '..', 'runtime', 'cli', 'main.js');
/** The previous design's CLI (--previous), or undefined. */
let previousCli: string | undefined;
const TS0 = 1_760_000_000_000;

interface Proc {
  name: string;
  p: ChildProcess;
  healthPort: number;
}

async function startInstance(name: string, url: string, o: { partitions: number; ttl: number }, cli = CLI): Promise<Proc> {
  const healthPort = await freePort();
  const p = spawn(process.execPath, [...nodeFlags, cli, 'run', '--cluster', url, '--instance', name, '--partitions', String(o.partitions), '--lease-ttl-ms', String(o.ttl), '--tick-ms', String(Math.floor(o.ttl / 6)), '--metrics-port', String(healthPort), '--log-level', 'warn', ...(cli === CLI ? instanceArgs : [])], { stdio: ['ignore', 'ignore', 'inherit'] });
  return { name, p, healthPort };
}

async function health(proc: Proc): Promise<Record<string, unknown> | undefined> {
  try {
    const r = await fetch(`http://127.0.0.1:${proc.healthPort}/health`);
    return (await r.json()) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

async function until(cond: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const t0 = Date.now();
  while (!(await cond().catch(() => false))) {
    if (Date.now() - t0 > ms) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Waits until the instances own every partition between them. */
async function balanced(procs: Proc[], partitions: number): Promise<void> {
  await until(async () => {
    const hs = await Promise.all(procs.map(health));
    if (hs.some((h) => h === undefined || (h['members'] as string[]).length !== procs.length)) return false;
    return hs.reduce((n, h) => n + (h!['owned'] as number[]).length, 0) === partitions;
  }, 120_000, 'partitions owned');
}

/** Counts results per device on a NATS subscription, with the arrival time of each. */
class Results {
  count = 0;
  readonly #nc: NatsConnection;
  onResult: ((device: string, ts: number, at: number) => void) | undefined;
  constructor(nc: NatsConnection) {
    this.#nc = nc;
    const sub = nc.subscribe('edgelstm.*.result');
    void (async () => {
      for await (const m of sub) {
        this.count++;
        if (this.onResult) {
          const r = JSON.parse(m.string()) as { device: string; ts: number };
          this.onResult(r.device, r.ts, performance.now());
        }
      }
    })();
  }
  close(): Promise<void> {
    return this.#nc.close();
  }
}

async function publisher(port: number): Promise<mqtt.MqttClient> {
  return mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: `bench-${process.pid}-${Math.random()}`, protocolVersion: 4, clean: true });
}

async function publishFleet(c: mqtt.MqttClient, devices: number, from: number, to: number): Promise<void> {
  for (let s = from; s < to; s++) {
    let window: Promise<unknown>[] = [];
    for (let d = 0; d < devices; d++) {
      window.push(c.publishAsync(`sensors/dev-${d}/telemetry`, `{"value":${(10 + Math.sin(d + s / 3)).toFixed(3)},"ts":${TS0 + s * 1000}}`, { qos: 1 }));
      if (window.length >= 1000) {
        await Promise.all(window);
        window = [];
      }
    }
    await Promise.all(window);
  }
}

interface Row {
  design: string;
  msgs: number;
  seconds: number;
  instCpu: number;
  natsCpu: number;
  /** The instances' CPU while idle (ready, no readings), share of one core, all instances together. */
  idle: number;
  /** Samples per ONNX Runtime call over the burst, all instances together (from /health; undefined for designs that do not report it). */
  perBatch: number | undefined;
  /** Readings taken from the stream over the burst per reading published (above 1: taken again after a partition restarted), and partitions abandoned (lease may have lapsed). */
  taken: number | undefined;
  abandoned: number | undefined;
  /** The instances' context switches per reading over the burst, all threads: voluntary (waiting for work) and involuntary (the core taken away). */
  switches: { voluntary: number; involuntary: number };
}

/** The instances' context switches so far, summed. */
function switchesOf(procs: Proc[]): { voluntary: number; involuntary: number } {
  return procs.map((p) => contextSwitches(p.p.pid)).reduce((a, b) => ({ voluntary: a.voluntary + b.voluntary, involuntary: a.involuntary + b.involuntary }), { voluntary: 0, involuntary: 0 });
}

/** What the instances did so far, summed (from /health): engine batches (NaN when one does not report them) and samples stepped, readings taken, partitions abandoned. */
interface Totals {
  batches: number;
  results: number;
  readings: number;
  abandoned: number;
}

async function clusterTotals(procs: Proc[]): Promise<Totals | undefined> {
  const hs = await Promise.all(procs.map(health));
  const t: Totals = { batches: 0, results: 0, readings: 0, abandoned: 0 };
  let engine = true;
  for (const h of hs) {
    const e = h?.['engine'] as { batches: number; results: number } | undefined;
    const c = h?.['counters'] as { readings: number; partitionsAbandoned: number } | undefined;
    if (c === undefined) return undefined;
    if (e === undefined) engine = false;
    else {
      t.batches += e.batches;
      t.results += e.results;
    }
    t.readings += c.readings;
    t.abandoned += c.partitionsAbandoned;
  }
  // An earlier design's /health has the counters but not the engine's batches.
  if (!engine) t.batches = Number.NaN;
  return t;
}

/** How long the instances' idle CPU is measured before each throughput row. */
const IDLE_MS = 2000;

async function throughputRow(o: { devices: number; readings: number; partitions: number; ttl: number }, instances: number | 'single', previous = false): Promise<Row> {
  const dir = mkdtempSync(join(tmpdir(), 'edgelstm-bench-cluster-'));
  const [n] = await startNatsCluster({ nodes: 1, partitions: o.partitions, dir });
  const node = n!;
  const url = `nats://127.0.0.1:${node.port}`;
  const nc = await connect({ servers: url });
  const results = new Results(nc);
  const procs: Proc[] = [];
  try {
    if (instances === 'single') {
      // NATS's MQTT listener speaks 3.1.1 only, and its mapping has already moved readings into part.<n>.sensors.<device>.telemetry:
      // the single instance subscribes there (QoS 1 subscriptions live in JetStream, which the server has).
      const p = spawn(process.execPath, [...nodeFlags, CLI, 'run', '--broker', `mqtt://127.0.0.1:${node.mqttPort}`, '--protocol', '3.1.1', '--input', 'part/{partition}/sensors/{device}/telemetry', '--qos', '1', '--client-id', `bench-single-${process.pid}`, '--clean-start', '--metrics-port', '0', '--watch-model=false', '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'inherit'] });
      procs.push({ name: 'single', p, healthPort: 0 });
      const c = await publisher(node.mqttPort);
      // the service is up once it answers a reading
      await until(async () => {
        await c.publishAsync('sensors/probe/telemetry', '{"value":1}', { qos: 1 });
        return results.count > 0;
      }, 60_000, 'the single-instance service');
      await c.endAsync();
    } else {
      for (let i = 0; i < instances; i++) procs.push(await startInstance(`i${i}`, url, o, previous ? previousCli : CLI));
      await balanced(procs, o.partitions);
    }
    const idle0 = procs.reduce((s, p) => s + cpuSeconds(p.p.pid), 0);
    await new Promise((r) => setTimeout(r, IDLE_MS));
    const idle = (procs.reduce((s, p) => s + cpuSeconds(p.p.pid), 0) - idle0) / (IDLE_MS / 1000);
    const engine0 = instances === 'single' ? undefined : await clusterTotals(procs);
    const base = results.count;
    const total = o.devices * o.readings;
    const cpu0 = procs.reduce((s, p) => s + cpuSeconds(p.p.pid), 0);
    const nats0 = cpuSeconds(node.process.pid);
    const sw0 = switchesOf(procs);
    const t0 = performance.now();
    const c = await publisher(node.mqttPort);
    await publishFleet(c, o.devices, 0, o.readings);
    await until(async () => results.count - base >= total, 600_000, `results of ${total} readings`);
    const seconds = (performance.now() - t0) / 1000;
    const instCpu = procs.reduce((s, p) => s + cpuSeconds(p.p.pid), 0) - cpu0;
    const natsCpu = cpuSeconds(node.process.pid) - nats0;
    const sw1 = switchesOf(procs);
    const switches = { voluntary: (sw1.voluntary - sw0.voluntary) / total, involuntary: (sw1.involuntary - sw0.involuntary) / total };
    const engine1 = engine0 === undefined ? undefined : await clusterTotals(procs);
    const both = engine0 !== undefined && engine1 !== undefined;
    const perBatch = both && Number.isFinite(engine1.batches) ? (engine1.results - engine0.results) / Math.max(1, engine1.batches - engine0.batches) : undefined;
    const taken = both ? (engine1.readings - engine0.readings) / total : undefined;
    const abandoned = both ? engine1.abandoned - engine0.abandoned : undefined;
    await c.endAsync();
    if (nodeFlags.length > 0) await Promise.all(procs.map((p) => new Promise((r) => p.p.once('exit', r).kill('SIGTERM'))));
    return { design: instances === 'single' ? 'single instance (edgelstm run --broker, NATS MQTT)' : `${previous ? 'previous ' : ''}cluster, ${instances} instance${instances === 1 ? '' : 's'}`, msgs: total, seconds, instCpu, natsCpu, idle, perBatch, taken, abandoned, switches };
  } finally {
    for (const p of procs) p.p.kill('SIGKILL');
    await results.close().catch(() => undefined);
    await stopNode(node, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

interface Takeover {
  worstMs: number;
  p50Ms: number;
  /** Every device's wait, for percentiles over all kills. */
  waits: number[];
  /** The dead instance's partitions as the survivors took them, stage by stage (from their /health). */
  starts: Stage[];
}

/** One partition taken over, ms: kill -> lease taken, the start's JetStream steps, ready -> replay done. */
interface Stage {
  lease: number;
  snapshot: number;
  restore: number;
  progress: number;
  fence: number;
  consumer: number;
  replay: number;
  backlog: number;
  /** kill -> replay done. */
  total: number;
}

/** The survivors' starts since `killedAt` (epoch ms). */
async function stagesSince(procs: Proc[], killedAt: number): Promise<Stage[]> {
  const out: Stage[] = [];
  for (const p of procs) {
    const h = await health(p);
    for (const s of (h?.['starts'] as PartitionStart[] | undefined) ?? []) {
      if (s.acquiredAt < killedAt) continue;
      const done = s.caughtUpAt ?? Number.NaN;
      out.push({ lease: s.acquiredAt - killedAt, snapshot: s.snapshotMs, restore: s.restoreMs, progress: s.progressMs, fence: s.fenceMs, consumer: s.consumerMs, replay: done - s.readyAt, backlog: s.backlog, total: done - killedAt });
    }
  }
  return out;
}

/** Kill -9 one of 3 instances while readings are paced; from the kill to each device's first answered reading sent after it. */
async function takeovers(o: { devices: number; rate: number; partitions: number; ttl: number; kills: number }): Promise<{ kills: Takeover[]; snapshots: { count: number; bytes: number; ms: number } }> {
  const dir = mkdtempSync(join(tmpdir(), 'edgelstm-bench-takeover-'));
  const [n] = await startNatsCluster({ nodes: 1, partitions: o.partitions, dir });
  const node: NatsNode = n!;
  const url = `nats://127.0.0.1:${node.port}`;
  const nc = await connect({ servers: url });
  const results = new Results(nc);
  const procs: Proc[] = [];
  const kills: Takeover[] = [];
  const snapshots = { count: 0, bytes: 0, ms: 0 };
  let stopPacing = false;
  let step = 0;
  const sentAt = new Map<string, number>();
  try {
    for (let i = 0; i < 3; i++) procs.push(await startInstance(`t${i}`, url, o));
    await balanced(procs, o.partitions);
    const c = await publisher(node.mqttPort);
    // paced: the fleet every devices/rate seconds
    const pacing = (async () => {
      const gap = 1000 / o.rate;
      let next = performance.now();
      while (!stopPacing) {
        for (let d = 0; d < o.devices && !stopPacing; d++) {
          const ts = TS0 + step * 1000;
          sentAt.set(`dev-${d}@${ts}`, performance.now());
          void c.publishAsync(`sensors/dev-${d}/telemetry`, `{"value":${(10 + Math.sin(d + step / 3)).toFixed(3)},"ts":${ts}}`, { qos: 1 });
          next += gap;
          const wait = next - performance.now();
          if (wait > 1) await new Promise((r) => setTimeout(r, wait));
        }
        step++;
      }
    })();
    await new Promise((r) => setTimeout(r, 3000));
    for (let k = 0; k < o.kills; k++) {
      const victim = procs[k % procs.length]!;
      const firstAfter = new Map<string, number>();
      const killedAt = performance.now();
      const killedWall = Date.now();
      // A device's wait: from sending its first reading after the kill to that reading's result. For the dead
      // instance's devices it is the rest of the takeover; a device whose reading goes out right after the kill waits it all.
      results.onResult = (device, ts, at) => {
        const sent = sentAt.get(`${device}@${ts}`);
        if (sent !== undefined && sent > killedAt && !firstAfter.has(device)) firstAfter.set(device, at - sent);
      };
      const h = await health(victim);
      const cnt = h?.['counters'] as { snapshots: number; snapshotBytes: number; snapshotMs: number } | undefined;
      if (cnt) {
        snapshots.count += cnt.snapshots;
        snapshots.bytes += cnt.snapshotBytes;
        snapshots.ms += cnt.snapshotMs;
      }
      victim.p.kill('SIGKILL');
      await until(async () => firstAfter.size >= o.devices, 300_000, 'every device answered after the kill');
      const lat = [...firstAfter.values()].sort((a, b) => a - b);
      // the survivors' /health: what each partition they took spent in every stage
      const starts = await stagesSince(procs.filter((p) => p !== victim), killedWall);
      kills.push({ worstMs: lat[lat.length - 1]!, p50Ms: quantile(lat, 0.5), waits: lat, starts });
      results.onResult = undefined;
      // bring the instance back and let the fleet settle before the next kill
      const i = procs.indexOf(victim);
      procs[i] = await startInstance(victim.name, url, o);
      await balanced(procs, o.partitions);
      await new Promise((r) => setTimeout(r, 1000));
    }
    stopPacing = true;
    await pacing;
    await c.endAsync();
  } finally {
    stopPacing = true;
    for (const p of procs) p.p.kill('SIGKILL');
    await results.close().catch(() => undefined);
    await stopNode(node, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
  return { kills, snapshots };
}

async function main(): Promise<void> {
  const { values: o, help } = parseArgs(process.argv.slice(2), SPECS);
  if (help) {
    process.stdout.write(`${formatHelp('node dist/bench/cluster.js [options]', SPECS)}\n`);
    return;
  }
  instanceArgs = (o['instance-args'] ?? '').split(' ').filter((w) => w.length > 0);
  if (o['cpu-prof'] !== undefined) nodeFlags = ['--cpu-prof', '--cpu-prof-dir', o['cpu-prof']];
  const cfg = { devices: o.devices, readings: o.readings, partitions: o.partitions, ttl: o['lease-ttl-ms'] };
  process.stdout.write(`edgelstm cluster benchmark: node ${process.version}, ${cpus().length} cores, load ${loadavg().map((x) => x.toFixed(1)).join(' ')}, ${o.devices} devices x ${o.readings} readings, ${o.partitions} partitions, nats-server 2.9 single node\n\n`);
  previousCli = o.previous === undefined ? undefined : join(o.previous, 'runtime', 'cli', 'main.js');
  const counts = o.instances.map(Number);
  // Each round: the single instance, then every instance count, current and previous design alternating (which goes first flips every round).
  const rounds: Row[][] = [];
  for (let k = 0; k < o.rounds; k++) {
    const rows: Row[] = [await throughputRow(cfg, 'single')];
    for (const n of counts) {
      const order = previousCli === undefined ? [false] : k % 2 === 0 ? [false, true] : [true, false];
      for (const prev of order) rows.push(await throughputRow(cfg, n, prev));
    }
    rounds.push(rows);
    const single = rows[0]!;
    if (o.rounds > 1) process.stdout.write(`round ${k + 1} (load ${loadavg().map((x) => x.toFixed(1)).join(' ')}):\n`);
    process.stdout.write('| design | readings | results/s | instances CPU µs/msg | vs single | nats-server CPU µs/msg | instances idle, % of a core | readings per ONNX call | readings taken per reading, partitions abandoned | context switches per reading: voluntary, involuntary |\n|---|---|---|---|---|---|---|---|---|---|\n');
    for (const r of [single, ...rows.slice(1).sort((a, b) => a.design.localeCompare(b.design))]) {
      const us = (r.instCpu / r.msgs) * 1e6;
      const ratio = us / ((single.instCpu / single.msgs) * 1e6);
      process.stdout.write(`| ${r.design} | ${r.msgs} | ${Math.round(r.msgs / r.seconds)} | ${us.toFixed(1)} | ${ratio.toFixed(2)}x | ${((r.natsCpu / r.msgs) * 1e6).toFixed(1)} | ${(100 * r.idle).toFixed(1)} | ${r.perBatch === undefined ? '' : r.perBatch.toFixed(1)} | ${r.taken === undefined ? '' : `${r.taken.toFixed(2)}, ${r.abandoned}`} | ${r.switches.voluntary.toFixed(2)}, ${r.switches.involuntary.toFixed(2)} |\n`);
    }
    process.stdout.write('\n');
  }
  if (o.rounds > 1 || previousCli !== undefined) {
    // Per design, the median over rounds of its CPU per reading as a ratio of the same round's single instance (and of the previous design's).
    const us = (r: Row): number => (r.instCpu / r.msgs) * 1e6;
    process.stdout.write(`Medians over ${o.rounds} round${o.rounds === 1 ? '' : 's'} (ratios within a round, then the median):\n\n| design | instances CPU µs/msg | vs single | vs previous design |\n|---|---|---|---|\n`);
    process.stdout.write(`| single instance | ${quantile(rounds.map((rs) => us(rs[0]!)).sort((a, b) => a - b), 0.5).toFixed(1)} | 1.00x | |\n`);
    for (const n of counts) {
      for (const prev of previousCli === undefined ? [false] : [false, true]) {
        const name = `${prev ? 'previous ' : ''}cluster, ${n} instance${n === 1 ? '' : 's'}`;
        const mine = rounds.map((rs) => rs.find((r) => r.design === name)!);
        const vsSingle = rounds.map((rs, k) => us(mine[k]!) / us(rs[0]!)).sort((a, b) => a - b);
        const other = `${prev ? '' : 'previous '}cluster, ${n} instance${n === 1 ? '' : 's'}`;
        const vsPrev = prev || previousCli === undefined ? undefined : rounds.map((rs, k) => us(mine[k]!) / us(rs.find((r) => r.design === other)!)).sort((a, b) => a - b);
        process.stdout.write(`| ${name} | ${quantile(mine.map(us).sort((a, b) => a - b), 0.5).toFixed(1)} | ${quantile(vsSingle, 0.5).toFixed(2)}x (${vsSingle.map((x) => x.toFixed(2)).join(', ')}) | ${vsPrev === undefined ? '' : `${quantile(vsPrev, 0.5).toFixed(2)}x (${vsPrev.map((x) => x.toFixed(2)).join(', ')})`} |\n`);
      }
    }
  }
  const rows = rounds[rounds.length - 1]!.filter((r) => !r.design.startsWith('previous'));
  // Device state per device: the snapshots' own figure when measured, else the engine's rows.
  let snapshotPerDevice: number | undefined;
  if (o.takeovers > 0) {
    const t = await takeovers({ devices: o['takeover-devices'], rate: o['takeover-rate'], partitions: o.partitions, ttl: o['lease-ttl-ms'], kills: o.takeovers });
    const worst = t.kills.map((k) => k.worstMs).sort((a, b) => a - b);
    const all = t.kills.flatMap((k) => k.waits).sort((a, b) => a - b);
    process.stdout.write(`\nTakeover after kill -9 of 1 of 3 instances (${o['takeover-devices']} devices at ${o['takeover-rate']}/s, lease TTL ${o['lease-ttl-ms']} ms): each device's wait from sending its first reading after the kill to that reading's result:\n\n`);
    process.stdout.write('| kills | device wait p50 ms | p99 ms | worst device per kill (median over kills) ms | worst over all kills ms |\n|---|---|---|---|---|\n');
    process.stdout.write(`| ${t.kills.length} | ${quantile(all, 0.5).toFixed(0)} | ${quantile(all, 0.99).toFixed(0)} | ${quantile(worst, 0.5).toFixed(0)} | ${worst[worst.length - 1]!.toFixed(0)} |\n`);
    const stages = t.kills.flatMap((k) => k.starts);
    if (stages.length > 0) {
      process.stdout.write(`\nWhere the takeover's time goes: the ${stages.length} partitions the survivors took over all kills, ms (p50 / p99 / max):\n\n`);
      process.stdout.write('| stage | p50 | p99 | max |\n|---|---|---|---|\n');
      const names: [keyof Stage, string][] = [
        ['lease', 'kill -> lease taken (the dead member\'s lease and heartbeat lapse, the next rebalance tick)'],
        ['snapshot', 'snapshot read (KV)'],
        ['restore', 'snapshot restored into the engine'],
        ['progress', 'progress read + consumer info + progress written'],
        ['fence', 'previous consumer deleted'],
        ['consumer', 'consumer created'],
        ['replay', 'consumer ready -> nothing pending (replay from the snapshot)'],
        ['backlog', 'readings pending when the consumer was made (count)'],
        ['total', 'kill -> partition caught up'],
      ];
      for (const [k, label] of names) {
        const v = stages.map((s) => s[k]).filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
        if (v.length > 0) process.stdout.write(`| ${label} | ${quantile(v, 0.5).toFixed(0)} | ${quantile(v, 0.99).toFixed(0)} | ${v[v.length - 1]!.toFixed(0)} |\n`);
      }
    }
    if (t.snapshots.count > 0) snapshotPerDevice = t.snapshots.bytes / t.snapshots.count / (o['takeover-devices'] / o.partitions);
    if (t.snapshots.count > 0) process.stdout.write(`\nPartition snapshots: ${t.snapshots.count}, ${(t.snapshots.bytes / t.snapshots.count / 1024).toFixed(1)} KiB and ${(t.snapshots.ms / t.snapshots.count).toFixed(1)} ms each on average (${(t.snapshots.bytes / t.snapshots.count / (o['takeover-devices'] / o.partitions)).toFixed(0)} bytes per device).\n`);
  }
  // Projection: 1M devices at 0.1 Hz, from this run's costs.
  const best = rows[rows.length - 1]!;
  const usInst = (best.instCpu / best.msgs) * 1e6;
  const usNats = (best.natsCpu / best.msgs) * 1e6;
  const rate = 100_000;
  // engine state per device (the snapshots' bytes per device, or h, c and the detector's rows at H=32) + the store's index and the partition's device set
  const stateBytes = (snapshotPerDevice ?? 1640) + 200;
  process.stdout.write(`\nProjection for 1,000,000 devices at 0.1 Hz (${rate.toLocaleString('en-US')} readings/s), from the costs above:\n\n`);
  process.stdout.write('| what | figure |\n|---|---|\n');
  process.stdout.write(`| instance cores | ${((rate * usInst) / 1e6).toFixed(1)} (at ${usInst.toFixed(1)} µs/reading): e.g. ${Math.ceil((rate * usInst) / 1e6 / 3)} instances of 4 cores at 75% |\n`);
  process.stdout.write(`| NATS cores | ${((rate * usNats) / 1e6).toFixed(1)} (at ${usNats.toFixed(1)} µs/reading, MQTT in + stream + results out), over a 3-node cluster with R3 streams |\n`);
  process.stdout.write(`| partitions | 256 (about 4,000 devices each; state moves a partition at a time, ~${((4000 * stateBytes) / 1e6).toFixed(1)} MB per snapshot, in chunks of the server's max_payload) |\n`);
  process.stdout.write(`| instance memory | ${((1e6 * stateBytes) / 1e9).toFixed(2)} GB of device state over the fleet, plus ~150 MB per process |\n`);
  process.stdout.write(`| network | readings ~60 B + headers in, results ~260 B out: ~${((rate * (60 + 80 + 260 + 80)) / 1e6).toFixed(0)} MB/s through NATS, x3 for R3 replication of the input stream |\n`);
  process.stdout.write(`| stream storage | ${((rate * 140 * 3600) / 1e9).toFixed(0)} GB per hour of readings before trimming (keep the stream as long as the snapshot interval needs) |\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
