import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import pino, { type Logger } from 'pino';
import { parseArgs } from '../../runtime/cli/args';
import { RUN_SPECS, resolveServiceConfig } from '../../runtime/service/config';
import { MqttService } from '../../runtime/service/service';
import type { Result } from '../../runtime/engine/sample';
import { freePort } from '../../runtime/net/free-port';

export { freePort };

/** A service on an embedded Aedes broker on a free port. */
export async function startService(modelPath: string, args: string[] = [], log?: Logger): Promise<MqttService> {
  const { values } = parseArgs(['--embedded-port', '0', '--metrics-port', '0', '--watch-model=false', '--client-id', `svc-${process.pid}-${Math.random()}`, ...args], RUN_SPECS);
  const svc = await MqttService.start(resolveServiceConfig(values, {}), modelPath, log ?? pino({ level: process.env['TEST_LOG'] ?? 'silent' }));
  await svc.serveMetrics('127.0.0.1', 0);
  return svc;
}

export async function client(url: string, id?: string): Promise<MqttClient> {
  return mqtt.connectAsync(url, { clientId: id ?? `t-${Math.random()}`, reconnectPeriod: 200 });
}

/** Collects JSON messages per topic filter. */
export async function collect(c: MqttClient, filter: string): Promise<unknown[]> {
  const out: unknown[] = [];
  c.on('message', (topic, payload) => {
    if (matches(filter, topic)) out.push(JSON.parse(payload.toString()));
  });
  await c.subscribeAsync(filter, { qos: 1 });
  return out;
}

function matches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

export async function until(cond: () => boolean, timeoutMs = 20_000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function byDeviceTs(results: unknown[]): Map<string, Result> {
  const m = new Map<string, Result>();
  for (const r of results as Result[]) m.set(`${r.device}@${r.ts}`, r);
  return m;
}

export const MOSQUITTO = '/usr/sbin/mosquitto';


/** A Mosquitto of our own on a free port, with `conf` lines added; resolves once it accepts connections. */
export async function startMosquitto(dir: string, port: number, conf: string[], name = 'mosquitto.conf'): Promise<ChildProcess> {
  const path = join(dir, name);
  // `user root`: the test's temp folder is not readable by the mosquitto user the broker would switch to.
  writeFileSync(path, [`listener ${port} 127.0.0.1`, 'user root', ...conf, ''].join('\n'));
  const p = spawn(MOSQUITTO, ['-c', path], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  p.stderr!.on('data', (b: Buffer) => (err += b.toString()));
  for (let i = 0; ; i++) {
    if (p.exitCode !== null) throw new Error(`mosquitto exited: ${err}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return p;
    if (i > 100) throw new Error(`mosquitto did not listen on ${port}: ${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
