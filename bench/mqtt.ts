/**
 * End-to-end MQTT throughput and latency: `npm run bench:mqtt [-- --seconds 5 --repeats 3 --qos 1]`.
 *
 * Starts a Mosquitto on a free port (own config, no persistence), then for
 * 1k and 10k devices runs the service (the compiled CLI, its own process)
 * twice: micro-batched (the default) and naive (`--max-batch 1
 * --max-delay-ms 0`: one ONNX Runtime call per message, everything else
 * equal). This process publishes the readings and subscribes to the results.
 *
 * Two measurements per configuration, each repeated (medians reported):
 * - flood: readings as fast as the pipeline takes them, at most --window
 *   readings without a result; messages/s = results received / time.
 * - paced: readings offered at --rate msg/s; p50/p99 latency from publish
 *   to the result arriving back here, and the rate actually achieved.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { parseArgs, type OptionSpecs } from '../runtime/cli/args';

const SPECS = {
  seconds: { type: 'number', min: 1, description: 'length of each measurement', default: 5 },
  repeats: { type: 'number', integer: true, min: 1, description: 'repeats of each measurement (median reported)', default: 3 },
  rate: { type: 'number', min: 100, description: 'offered rate of the paced run, msg/s', default: 50000 },
  window: { type: 'number', integer: true, min: 100, description: 'readings without a result at most (flood)', default: 20000 },
  qos: { type: 'number', integer: true, min: 0, max: 2, description: 'QoS of readings and results', default: 1 },
  devices: { type: 'list', description: 'fleet sizes', default: ['1000', '10000'] },
  mosquitto: { type: 'string', description: 'mosquitto binary', default: '/usr/sbin/mosquitto' },
} satisfies OptionSpecs;

const TS0 = 1_700_000_000_000;

interface RunStats {
  sent: number;
  received: number;
  seconds: number;
  p50: number;
  p99: number;
}

async function freePort(): Promise<number> {
  const s = createServer().listen(0, '127.0.0.1');
  await once(s, 'listening');
  const p = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return p;
}

function startMosquitto(bin: string, dir: string, port: number): ChildProcess {
  const conf = join(dir, 'mosquitto.conf');
  // No inflight/queue caps: the bench measures the service, not the broker's defaults (20 in flight per client).
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nmax_inflight_messages 0\nmax_queued_messages 0\nmax_keepalive 600\n`);
  return spawn(bin, ['-c', conf], { stdio: 'ignore' });
}

async function startService(port: number, naive: boolean, qos: number): Promise<ChildProcess> {
  const args = ['dist/runtime/cli/main.js', 'run', '--broker', `mqtt://127.0.0.1:${port}`, '--client-id', `bench-svc-${naive ? 'naive' : 'batched'}-${Date.now()}`, '--clean-start',
    '--qos', String(qos), '--metrics-port', '0', '--watch-model=false', '--log-level', 'warn', '--max-devices', '20000', '--queue-size', '20000'];
  if (naive) args.push('--max-batch', '1', '--max-delay-ms', '0');
  const nodeFlags = (process.env['BENCH_SERVICE_NODE_FLAGS'] ?? '').split(' ').filter(Boolean);
  const p = spawn(process.execPath, [...nodeFlags, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  p.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  // The service logs at warn: wait for its subscription instead, by probing with a reading.
  const probe = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: `probe-${Date.now()}` });
  let ready = false;
  probe.on('message', () => (ready = true));
  await probe.subscribeAsync('edgelstm/probe/result', { qos: 0 });
  for (let i = 0; !ready; i++) {
    if (p.exitCode !== null) throw new Error(`service exited: ${err}`);
    if (i > 300) throw new Error(`service not ready: ${err}`);
    probe.publish('sensors/probe/telemetry', JSON.stringify({ ts: TS0 + i, value: 1 }), { qos: 0 });
    await new Promise((r) => setTimeout(r, 50));
  }
  await probe.endAsync();
  return p;
}

async function stop(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null) return;
  p.kill('SIGTERM');
  await once(p, 'exit');
}

function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/**
 * One measurement. `rate` undefined: flood (bounded by the window). The
 * readings of a round go to every device once, so each device's readings
 * arrive in order; latency is measured per reading from its publish to its result.
 */
async function measure(pub: MqttClient, sub: MqttClient, devices: number, seconds: number, qos: 0 | 1 | 2, window: number, rate: number | undefined, runId: number): Promise<RunStats> {
  const cap = Math.ceil((rate ?? 400_000) * seconds * 1.2) + devices;
  const sentAt = new Float64Array(cap);
  const latencies = new Float64Array(cap);
  let received = 0;
  let sent = 0;
  // Every run uses fresh device names, so no state or dedupe carries over between runs.
  const prefix = `r${runId}d`;
  const onMessage = (topic: string, payload: Buffer): void => {
    const now = performance.now();
    const s = payload.toString();
    // Cheap field extraction: the bench must not be the bottleneck it measures.
    const dev = /"device":"r\d+d(\d+)"/.exec(s);
    const ts = /"ts":(\d+)/.exec(s);
    if (!dev || !ts || !topic.startsWith(`edgelstm/${prefix}`)) return;
    const seq = ((Number(ts[1]) - TS0) / 1000) * devices + Number(dev[1]);
    latencies[received++] = now - sentAt[seq]!;
  };
  sub.on('message', onMessage);
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now();
      if (now >= end || sent >= cap) return resolve();
      const target = rate === undefined ? Infinity : Math.floor(((now - t0) / 1000) * rate);
      let n = 0;
      while (sent < target && sent - received < window && n < 2000) {
        const d = sent % devices;
        const step = Math.floor(sent / devices);
        sentAt[sent] = performance.now();
        pub.publish(`sensors/${prefix}${d}/telemetry`, `{"ts":${TS0 + step * 1000},"value":${(Math.sin(step / 5 + d) * 10 + 20).toFixed(3)}}`, { qos });
        sent++;
        n++;
      }
      setImmediate(tick);
    };
    tick();
  });
  const sentInTime = sent;
  // Results still on their way count, up to 10 s; the time is the time the last one arrived.
  let last = performance.now();
  for (let i = 0; i < 500 && received < sentInTime; i++) {
    const before = received;
    await new Promise((r) => setTimeout(r, 20));
    if (received > before) last = performance.now();
  }
  if (received >= sentInTime) last = Math.max(last, end);
  sub.removeListener('message', onMessage);
  const lat = latencies.slice(0, received).sort();
  return { sent: sentInTime, received, seconds: (Math.max(last, end) - t0) / 1000, p50: quantile(lat, 0.5), p99: quantile(lat, 0.99) };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main(): Promise<void> {
  const { values: o } = parseArgs(process.argv.slice(2), SPECS);
  const qos = o.qos as 0 | 1 | 2;
  const dir = mkdtempSync(join(tmpdir(), 'edgelstm-bench-mqtt-'));
  const port = await freePort();
  const broker = startMosquitto(o.mosquitto, dir, port);
  await new Promise((r) => setTimeout(r, 300));
  if (broker.exitCode !== null) throw new Error(`mosquitto (${o.mosquitto}) did not start`);
  const url = `mqtt://127.0.0.1:${port}`;
  process.stdout.write(`MQTT bench: Mosquitto on ${url}, QoS ${qos}, ${o.seconds} s per measurement, median of ${o.repeats}; ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}\n\n`);
  const rows: string[] = [];
  let runId = 0;
  const summary: Record<string, { flood: number; p50: number; p99: number; achieved: number }> = {};
  try {
    for (const devStr of o.devices) {
      const devices = Number(devStr);
      for (const naive of [false, true]) {
        const design = naive ? 'naive (1 ORT call/msg)' : 'micro-batched';
        const svc = await startService(port, naive, qos);
        const pub = await mqtt.connectAsync(url, { clientId: `bench-pub-${Date.now()}` });
        const sub = await mqtt.connectAsync(url, { clientId: `bench-sub-${Date.now()}`, protocolVersion: 5, properties: { receiveMaximum: 65535 } });
        await sub.subscribeAsync('edgelstm/+/result', { qos });
        try {
          // Warm-up: the devices' first readings allocate their slots.
          await measure(pub, sub, devices, 1, qos, o.window, undefined, runId++);
          const floods: RunStats[] = [];
          const paced: RunStats[] = [];
          for (let r = 0; r < o.repeats; r++) {
            floods.push(await measure(pub, sub, devices, o.seconds, qos, o.window, undefined, runId++));
            paced.push(await measure(pub, sub, devices, o.seconds, qos, o.window, o.rate, runId++));
          }
          const flood = median(floods.map((s) => s.received / s.seconds));
          const achieved = median(paced.map((s) => s.received / s.seconds));
          const p50 = median(paced.map((s) => s.p50));
          const p99 = median(paced.map((s) => s.p99));
          const lostFlood = floods.reduce((a, s) => a + s.sent - s.received, 0);
          const lostPaced = paced.reduce((a, s) => a + s.sent - s.received, 0);
          summary[`${devices}/${naive ? 'naive' : 'batched'}`] = { flood, p50, p99, achieved };
          rows.push(`| ${devices} | ${design} | ${Math.round(flood).toLocaleString('en')} | ${Math.round(achieved).toLocaleString('en')} | ${p50.toFixed(1)} | ${p99.toFixed(1)} | ${lostFlood + lostPaced} |`);
          process.stderr.write(`done: ${devices} devices, ${design}\n`);
        } finally {
          await pub.endAsync();
          await sub.endAsync();
          await stop(svc);
        }
      }
    }
  } finally {
    broker.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write(`| devices | design | flood msg/s | paced at ${o.rate.toLocaleString('en')}/s: achieved msg/s | p50 ms | p99 ms | without result after 10 s |\n|---|---|---|---|---|---|---|\n${rows.join('\n')}\n\n`);
  for (const devStr of o.devices) {
    const b = summary[`${devStr}/batched`];
    const n = summary[`${devStr}/naive`];
    if (b && n) process.stdout.write(`${devStr} devices: micro-batched / naive = ${(b.flood / n.flood).toFixed(2)}x (flood msg/s); targets >= 50,000 msg/s: ${b.flood >= 50_000 ? 'met' : 'not met'}, p99 < 50 ms at ${o.rate}/s: ${b.p99 < 50 && b.achieved >= 0.95 * o.rate ? 'met' : 'not met'}, >= 3x naive: ${b.flood >= 3 * n.flood ? 'met' : 'not met'}\n`);
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 1;
});
