/**
 * Cost of the write-ahead journal: `npm run bench:journal [-- --seconds 5 --repeats 3 --devices 1000 --rate 10000 --dir DIR]`.
 *
 * A Mosquitto on a free port and the service (the compiled CLI, its own
 * process) at QoS 1, with --state-file in --dir (default: the OS temp
 * folder; say where it lives, the fdatasync cost is the disk's), run as:
 * - no state file (nothing on disk while running),
 * - state file, --journal=false (periodic snapshots only: a kill -9 loses the readings since the last one),
 * - state file with the journal (the default: every reading on disk before its PUBACK).
 * Per variant and repeat (variants interleaved, medians reported): capacity
 * (flood, at most --window readings without a result) and latency from
 * publish to result at a paced --rate. Also the journal's fdatasyncs per
 * second and bytes per reading, from the service's /metrics.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, type OptionSpecs } from '../runtime/cli/args';
import { RawMqtt, sendReadings } from './mqtt-load';
import { freePort } from '../runtime/net/free-port';

const SPECS = {
  seconds: { type: 'number', min: 1, description: 'length of each measurement', default: 5 },
  repeats: { type: 'number', integer: true, min: 1, description: 'repeats (median reported)', default: 3 },
  devices: { type: 'number', integer: true, min: 1, description: 'fleet size', default: 1000 },
  rate: { type: 'number', min: 100, description: 'paced rate for the latency rows, msg/s', default: 10000 },
  window: { type: 'number', integer: true, min: 100, description: 'readings without a result at most (flood)', default: 20000 },
  dir: { type: 'string', description: 'folder of the state file and journal', default: tmpdir() },
  mosquitto: { type: 'string', description: 'mosquitto binary', default: '/usr/sbin/mosquitto' },
} satisfies OptionSpecs;

const TS0 = 1_700_000_000_000;
type Variant = 'none' | 'snapshots' | 'journal';
const VARIANTS: Variant[] = ['none', 'snapshots', 'journal'];
const LABEL: Record<Variant, string> = { none: 'no state file', snapshots: 'snapshots only (--journal=false)', journal: 'journal (default)' };


async function startService(port: number, metricsPort: number, variant: Variant, dir: string): Promise<ChildProcess> {
  const args = ['dist/runtime/cli/main.js', 'run', '--broker', `mqtt://127.0.0.1:${port}`, '--client-id', `bench-journal-${Date.now()}`, '--clean-start',
    '--qos', '1', '--metrics-port', String(metricsPort), '--watch-model=false', '--log-level', 'warn', '--max-devices', '20000', '--queue-size', '20000'];
  if (variant !== 'none') args.push('--state-file', join(dir, `state-${Date.now()}.bin`), '--snapshot-interval-s', '60');
  if (variant === 'snapshots') args.push('--journal=false');
  const p = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  p.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  p.stdout!.resume();
  for (let i = 0; ; i++) {
    if (p.exitCode !== null) throw new Error(`service exited: ${err}`);
    if (i > 600) throw new Error(`service not ready: ${err}`);
    const ok = await fetch(`http://127.0.0.1:${metricsPort}/health`).then((r) => r.ok, () => false);
    if (ok) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return p;
}

interface Stats {
  rate: number;
  p50: number;
  p99: number;
}

/** Flood (rate undefined) or paced; readings round-robin over the fleet, each device's in order. */
async function measure(pub: RawMqtt, sub: RawMqtt, devices: number, step: { n: number }, seconds: number, window: number, rate: number | undefined): Promise<Stats> {
  const cap = Math.ceil((rate ?? 500_000) * seconds * 1.5);
  const sentAt = new Float64Array(cap);
  const lat = new Float64Array(cap);
  const base = step.n;
  let sent = 0;
  let received = 0;
  sub.onPublish = (topic, payload, at) => {
    const d = Number(topic.slice(10, topic.indexOf('/', 10)));
    const i = payload.indexOf('"ts":');
    const ts = Number(payload.toString('latin1', i + 5, payload.indexOf(',', i)));
    const n = ((ts - TS0) / 1000) * devices + d - base;
    if (n >= 0 && n < sent) lat[received++] = at - sentAt[n]!;
  };
  const run = await sendReadings(pub, {
    seconds, rate, window, cap, sentAt,
    answered: () => received,
    add: (i) => {
      const r = base + i;
      const d = r % devices;
      pub.add(`sensors/d${d}/telemetry`, `{"ts":${TS0 + Math.floor(r / devices) * 1000},"value":${(Math.sin(r / devices / 5 + d) * 10 + 20).toFixed(3)}}`, 1);
      sent = i + 1;
    },
  });
  const { t0, end, last } = run;
  step.n = base + sent;
  sub.onPublish = undefined;
  const s = lat.slice(0, received).sort();
  const q = (x: number): number => (s.length ? s[Math.min(s.length - 1, Math.floor(x * s.length))]! : NaN);
  return { rate: received / ((Math.max(last, end) - t0) / 1000), p50: q(0.5), p99: q(0.99) };
}

async function metric(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

const median = (xs: number[]): number => {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main(): Promise<void> {
  const { values: o } = parseArgs(process.argv.slice(2), SPECS);
  const dir = mkdtempSync(join(o.dir, 'edgelstm-bench-journal-'));
  const port = await freePort();
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_inflight_messages 0\nmax_queued_messages 0\nset_tcp_nodelay true\n`);
  const broker = spawn(o.mosquitto, ['-c', conf], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 300));
  const flood: Record<Variant, number[]> = { none: [], snapshots: [], journal: [] };
  const paced: Record<Variant, Stats[]> = { none: [], snapshots: [], journal: [] };
  const perSync: number[] = [];
  const bytesPer: number[] = [];
  try {
    for (let rep = 0; rep < o.repeats; rep++) {
      for (const v of VARIANTS) {
        const mport = await freePort();
        const svc = await startService(port, mport, v, dir);
        const pub = await RawMqtt.connect(port, `bench-pub-${rep}-${v}`);
        const sub = await RawMqtt.connect(port, `bench-sub-${rep}-${v}`);
        await sub.subscribe('edgelstm/+/result', 0);
        const step = { n: 0 };
        await measure(pub, sub, o.devices, step, 1, o.window, undefined); // warm-up: every device has state
        const in0 = await metric(mport, 'edgelstm_messages_in_total');
        const s0 = await metric(mport, 'edgelstm_journal_syncs_total');
        const b0 = await metric(mport, 'edgelstm_journal_bytes_total');
        flood[v].push((await measure(pub, sub, o.devices, step, o.seconds, o.window, undefined)).rate);
        paced[v].push(await measure(pub, sub, o.devices, step, o.seconds, o.window, o.rate));
        if (v === 'journal') {
          const n = (await metric(mport, 'edgelstm_messages_in_total')) - in0;
          perSync.push(n / ((await metric(mport, 'edgelstm_journal_syncs_total')) - s0));
          bytesPer.push(((await metric(mport, 'edgelstm_journal_bytes_total')) - b0) / n);
        }
        await pub.end();
        await sub.end();
        svc.kill('SIGTERM');
        await once(svc, 'exit');
        process.stderr.write('.');
      }
    }
  } finally {
    broker.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
  process.stderr.write('\n');
  const base = median(flood.none);
  const lines = [
    `QoS 1, ${o.devices} devices, Mosquitto, state in ${o.dir}; medians of ${o.repeats}; flood ${o.seconds} s (window ${o.window}), paced ${o.rate.toLocaleString('en')} msg/s ${o.seconds} s`,
    '',
    '| state on disk | capacity, msg/s | vs no state file | paced p50, ms | paced p99, ms |',
    '|---|---:|---:|---:|---:|',
    ...VARIANTS.map((v) => {
      const f = median(flood[v]);
      return `| ${LABEL[v]} | ${Math.round(f).toLocaleString('en')} | ${(f / base).toFixed(2)} | ${median(paced[v].map((s) => s.p50)).toFixed(2)} | ${median(paced[v].map((s) => s.p99)).toFixed(2)} |`;
    }),
    '',
    `journal: ${median(perSync).toFixed(0)} readings per fdatasync, ${median(bytesPer).toFixed(1)} bytes per reading (flood and paced runs together)`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
