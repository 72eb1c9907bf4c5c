import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { once } from 'node:events';
import mqtt, { type MqttClient } from 'mqtt';
import pino from 'pino';
import { parseArgs } from '../../runtime/cli/args';
import { RUN_SPECS, resolveServiceConfig } from '../../runtime/service/config';
import { MqttService } from '../../runtime/service/service';
import { freePort, MOSQUITTO, startMosquitto } from '../service/helpers';

/** Why a security test is skipped: Debian's mosquitto is missing (.ci/run installs it). */
export const noMosquitto: string | false = existsSync(MOSQUITTO) ? false : 'mosquitto not installed';

export interface Broker {
  port: number;
  url: string;
  proc: ChildProcess;
  /** What Mosquitto printed (its log goes to stderr with `log_dest stderr`). */
  log(): string;
  stop(): Promise<void>;
}

/** A real Mosquitto on a free port in `dir`, logging to stderr (so a test can see "malformed packet"). */
export async function mosquitto(dir: string, conf: string[] = ['allow_anonymous true'], name = `mosquitto-${Math.random().toString(36).slice(2)}.conf`): Promise<Broker> {
  const port = await freePort();
  let text = '';
  const proc = await startMosquitto(dir, port, ['log_dest stderr', 'log_type all', ...conf], name);
  proc.stderr!.on('data', (b: Buffer) => (text += b.toString()));
  return {
    port,
    url: `mqtt://127.0.0.1:${port}`,
    proc,
    log: () => text,
    stop: async () => {
      if (proc.exitCode !== null) return;
      proc.kill('SIGTERM');
      await once(proc, 'exit');
    },
  };
}

/** Lines the service logged, parsed (pino JSON). */
export interface CapturedLog {
  lines: Record<string, unknown>[];
  has(msg: string): boolean;
}

/** The service in this process against `brokerUrl`, with its log captured. */
export async function service(modelPath: string, brokerUrl: string, args: string[] = []): Promise<{ svc: MqttService; log: CapturedLog }> {
  const lines: Record<string, unknown>[] = [];
  const dest = { write: (s: string): void => void lines.push(JSON.parse(s) as Record<string, unknown>) };
  const log = pino({ level: 'info' }, dest);
  const { values } = parseArgs(['--broker', brokerUrl, '--metrics-port', '0', '--watch-model=false', '--client-id', `sec-${process.pid}-${Math.random()}`, '--reconnect-min-ms', '100', '--reconnect-max-ms', '500', '--max-delay-ms', '1', ...args], RUN_SPECS);
  const svc = await MqttService.start(resolveServiceConfig(values, {}), modelPath, log);
  await svc.serveMetrics('127.0.0.1', 0);
  return { svc, log: { lines, has: (m) => lines.some((l) => typeof l['msg'] === 'string' && l['msg'].includes(m)) } };
}

/** A test client that collects every message under `filters` as [topic, parsed JSON]. */
export async function listener(url: string, filters: string[]): Promise<{ c: MqttClient; got: [string, Record<string, unknown>][] }> {
  const c = await mqtt.connectAsync(url, { clientId: `l-${Math.random()}`, reconnectPeriod: 200 });
  const got: [string, Record<string, unknown>][] = [];
  c.on('message', (topic, payload) => got.push([topic, JSON.parse(payload.toString()) as Record<string, unknown>]));
  await c.subscribeAsync(filters, { qos: 1 });
  return { c, got };
}

/** A counter of /metrics, summed over the label sets that contain `label` (e.g. 'code="E_BAD_TIMESTAMP"'). */
export async function metric(svc: MqttService, name: string, label = ''): Promise<number> {
  const text = await svc.metrics.registry.metrics();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || !line.includes(label)) continue;
    const m = /^(\S+?)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m && m[1] === name) sum += Number(m[3]);
  }
  return sum;
}

/** The service as a user runs it: `edgelstm run` in its own process, its output kept, its RSS sampled. */
export interface ServiceProcess {
  p: ChildProcess;
  /** Everything it printed (stdout and stderr). */
  log(): string;
  /** Largest resident set seen so far, in bytes (sampled every 50 ms from /proc). */
  peakRss(): number;
  /** SIGTERM; resolves with the exit code and how long the exit took. */
  stop(): Promise<{ code: number | null; ms: number }>;
}

export function runService(modelPath: string, args: string[]): ServiceProcess {
  const p = spawn(process.execPath, ['dist/runtime/cli/main.js', 'run', '--model', modelPath, '--watch-model=false', ...(args.includes('--client-id') ? [] : ['--client-id', `sec-${Math.random().toString(36).slice(2)}`]), '--metrics-port', '0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  p.stdout!.on('data', (b: Buffer) => (text += b.toString()));
  p.stderr!.on('data', (b: Buffer) => (text += b.toString()));
  let peak = 0;
  const timer = setInterval(() => {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${p.pid}/status`, 'utf8'));
      if (m) peak = Math.max(peak, Number(m[1]) * 1024);
    } catch {
      // exited
    }
  }, 50);
  p.once('exit', () => clearInterval(timer));
  return {
    p,
    log: () => text,
    peakRss: () => peak,
    stop: async () => {
      const before = Date.now();
      if (p.exitCode === null && p.signalCode === null) {
        p.kill('SIGTERM');
        await once(p, 'exit');
      }
      return { code: p.exitCode, ms: Date.now() - before };
    },
  };
}
