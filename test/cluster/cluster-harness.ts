import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import type { Test } from 'tap';
import { connect, StorageType, type NatsConnection } from 'nats';
import { Engine } from '../../runtime/engine/engine';
import { loadModel } from '../../runtime/model/load-model';
import { defaultModelPath } from '../../runtime/model/default-model';
import { resultJson } from '../../runtime/engine/result-json';

import { startNatsCluster, stopNode } from '../../bench/nats-server';

const CLI = join(__dirname, '..', '..', 'dist', 'runtime', 'cli', 'main.js');

export interface Instance {
  name: string;
  process: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

/** One `edgelstm run --cluster` process (the compiled CLI, as users run it). */
export function startInstance(name: string, servers: string[], extra: string[] = []): Instance {
  const args = [CLI, 'run', '--cluster', servers.join(','), '--instance', name, '--cluster-publish', 'jetstream', '--lease-ttl-ms', '6000', '--tick-ms', '500', '--snapshot-every', '500', '--snapshot-interval-ms', '1000', '--log-level', process.env.CLUSTER_LOG ?? 'info', ...extra];
  const p = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  // CLUSTER_LOG_DIR=/some/dir keeps every instance's whole log there (the failure message holds only its end).
  const file = process.env.CLUSTER_LOG_DIR !== undefined ? join(process.env.CLUSTER_LOG_DIR, `${name}-${process.pid}.log`) : undefined;
  const keep = (b: Buffer): void => {
    if (file !== undefined) appendFileSync(file, b);
    out += b.toString();
    if (out.length > 400_000) out = out.slice(-200_000);
  };
  p.stdout!.on('data', keep);
  p.stderr!.on('data', keep);
  const exited = new Promise<number | null>((r) => p.once('exit', (code) => r(code)));
  return { name, process: p, output: () => out, exited };
}

/** A reading's payload and its key: the same values and times in every run. */
export function reading(device: number, step: number): { topic: string; payload: string; key: string } {
  const ts = 1_760_000_000_000 + step * 1000;
  const value = Math.round((10 + 3 * Math.sin(device * 0.7 + step * 0.3) + ((device * 31 + step * 17) % 7) * 0.05) * 1000) / 1000;
  return { topic: `sensors/dev-${device}/telemetry`, payload: JSON.stringify({ value, ts }), key: `dev-${device}@${ts}` };
}

/**
 * Publishes steps [from, to) of every device over MQTT QoS 1 into NATS's MQTT listener, a step at a time; fails,
 * saying how many were acknowledged, if the broker has not acknowledged them all within 180 s.
 */
export async function publishSteps(mqttPort: number, devices: number, from: number, to: number, detail: () => string = () => ''): Promise<void> {
  const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { clientId: `pub-${process.pid}-${from}`, protocolVersion: 4, clean: true });
  let acked = 0;
  const all = async (): Promise<void> => {
    for (let s = from; s < to; s++) {
      const sends: Promise<unknown>[] = [];
      for (let d = 0; d < devices; d++) {
        const r = reading(d, s);
        sends.push(c.publishAsync(r.topic, r.payload, { qos: 1 }).then(() => acked++));
        if (sends.length >= 500) await Promise.all(sends.splice(0));
      }
      await Promise.all(sends);
    }
  };
  try {
    await within(all(), 180_000, `steps ${from}..${to - 1} of ${devices} devices published`, () => `${acked} of ${devices * (to - from)} acknowledged\n${detail()}`);
  } finally {
    await c.endAsync(true).catch(() => undefined);
  }
}

/** Publishes one device's reading of one step again (what a QoS 1 publish sent twice leaves in the stream). */
export async function publishAgain(mqttPort: number, device: number, step: number): Promise<void> {
  const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { clientId: `dup-${process.pid}-${device}-${step}`, protocolVersion: 4, clean: true });
  try {
    const r = reading(device, step);
    await c.publishAsync(r.topic, r.payload, { qos: 1 });
  } finally {
    await c.endAsync();
  }
}

/** The results stream: every result the cluster publishes, stored, so the test sees all of them. */
export async function resultsStream(nc: NatsConnection, replicas: number): Promise<void> {
  const jsm = await nc.jetstreamManager({ timeout: 30_000 });
  await jsm.streams.add({ name: 'RESULTS', subjects: ['edgelstm.*.result'], num_replicas: replicas, storage: StorageType.File });
}

/** Every stored result, as text. */
export async function readResults(nc: NatsConnection): Promise<string[]> {
  const js = nc.jetstream({ timeout: 30_000 });
  const jsm = await nc.jetstreamManager({ timeout: 30_000 });
  const last = (await jsm.streams.info('RESULTS')).state.last_seq;
  const out: string[] = [];
  if (last === 0) return out;
  const c = await js.consumers.get('RESULTS');
  const it = await c.consume({ max_messages: 4096 });
  // A stream that stops short of `last` (a message deleted, a leader lost) ends the read after 20 s without one,
  // rather than waiting for ever; the caller sees what is missing.
  let idle: NodeJS.Timeout | undefined;
  const quiet = (): void => {
    clearTimeout(idle);
    idle = setTimeout(() => void it.close().catch(() => undefined), 20_000);
  };
  quiet();
  try {
    for await (const m of it) {
      out.push(m.string());
      if (m.seq >= last) break;
      quiet();
    }
  } finally {
    clearTimeout(idle);
    await it.close().catch(() => undefined);
  }
  return out;
}

/** Readings answered so far (distinct device and time, flagged repeats not counted twice). */
export async function answered(nc: NatsConnection): Promise<number> {
  const keys = new Set<string>();
  for (const text of await readResults(nc)) {
    const r = JSON.parse(text) as { device: string; ts: number };
    keys.add(`${r.device}@${r.ts}`);
  }
  return keys.size;
}

/**
 * Waits until every one of `n` readings has a result, polling the stream's message count (cheap) and reading the
 * stream only once the count is there (each read makes a consumer, which a loaded cluster must place). On timeout it
 * returns, so the caller's checks say which readings lack a result.
 */
export async function untilAnswered(t: Test, nc: NatsConnection, n: number, timeoutMs: number, detail: () => string = () => ''): Promise<void> {
  let got = 0;
  try {
    await until(async () => {
      if ((await resultCount(nc)) < n) return false;
      got = await answered(nc);
      if (got >= n) return true;
      await new Promise((r) => setTimeout(r, 1000));
      return false;
    }, timeoutMs, `results of all ${n} readings`);
  } catch (e) {
    // Where readings stopped: the input stream (did the broker store them?) and the results stream.
    const streams = await Promise.all(['EDGELSTM_IN', 'RESULTS'].map(async (name) => {
      const info = await (await nc.jetstreamManager({ timeout: 10_000 })).streams.info(name).catch((err: unknown) => err as Error);
      return info instanceof Error ? `${name}: ${info.message}` : `${name}: ${info.state.messages} messages, leader ${info.cluster?.leader ?? '?'}`;
    }));
    t.fail(`${got} of ${n} readings answered: ${(e as Error).message.split('\n').slice(0, 2).join(' ')}`, { streams, detail: detail() });
  }
}

export async function resultCount(nc: NatsConnection): Promise<number> {
  const jsm = await nc.jetstreamManager({ timeout: 30_000 });
  return (await jsm.streams.info('RESULTS')).state.messages;
}

/** The same readings through one engine in this process, device by device: what one uninterrupted instance computes. */
export async function referenceResults(devices: number, steps: number): Promise<Map<string, string>> {
  const model = await loadModel(defaultModelPath());
  const engine = new Engine(model);
  const out = new Map<string, string>();
  for (let s = 0; s < steps; s++) {
    const pending: Promise<void>[] = [];
    for (let d = 0; d < devices; d++) {
      const { payload, key } = reading(d, s);
      const { value, ts } = JSON.parse(payload) as { value: number; ts: number };
      pending.push(engine.push({ device: `dev-${d}`, ts, values: [value] }).then((r) => void out.set(key, resultJson(r))));
    }
    await Promise.all(pending);
  }
  await engine.close();
  await model.release();
  return out;
}

/** One nats-server (JetStream, the partition mapping) on free ports in a temporary folder, and a client of it; both gone at the test's end. */
export async function oneNatsNode(t: Test, partitions: number): Promise<NatsConnection> {
  const dir = mkdtempSync(join(tmpdir(), 'edgelstm-nats-'));
  const [node] = await startNatsCluster({ nodes: 1, partitions, dir });
  const nc = await connect({ servers: `nats://127.0.0.1:${node!.port}` });
  t.teardown(async () => {
    await nc.close();
    await stopNode(node!, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  return nc;
}

export async function natsClient(servers: string[]): Promise<NatsConnection> {
  return connect({ servers, maxReconnectAttempts: -1, reconnectTimeWait: 200 });
}

/**
 * A test's time, shared by its waits: each wait ends, with its detail, before the file's own timeout would
 * end the test without saying which step hung. `mark` records how long each phase took, for the report.
 */
export class Budget {
  readonly #end: number;
  readonly #t0 = Date.now();
  #last = Date.now();
  readonly phases: string[] = [];
  constructor(t: Test, ms: number) {
    this.#end = Date.now() + ms;
    t.setTimeout(ms + 60_000);
  }
  /** The time a wait may take: its own limit, or what is left of the test's (less a margin to report). */
  limit(ms: number): number {
    return Math.max(1000, Math.min(ms, this.#end - Date.now() - 10_000));
  }
  mark(phase: string): void {
    const now = Date.now();
    this.phases.push(`${phase} ${((now - this.#last) / 1000).toFixed(1)} s`);
    this.#last = now;
  }
  report(): string {
    return `phases (${((Date.now() - this.#t0) / 1000).toFixed(1)} s): ${this.phases.join(', ')}`;
  }
}

let budget: Budget | undefined;
/** Makes every wait of this file end within `ms` (see Budget). */
export function withBudget(t: Test, ms: number): Budget {
  budget = new Budget(t, ms);
  return budget;
}

function limit(ms: number): number {
  return budget === undefined ? ms : budget.limit(ms);
}

/** `p`, or an error naming `what` (with the detail and the phases so far) once `ms` have passed. */
export async function within<T>(p: Promise<T>, ms: number, what: string, detail: () => string = () => ''): Promise<T> {
  const max = limit(ms);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not done after ${max} ms${budget ? `\n${budget.report()}` : ''}${detail() ? `\n${detail()}` : ''}`)), max);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

export async function until(cond: () => Promise<boolean> | boolean, timeoutMs: number, what: string, detail: () => string = () => ''): Promise<void> {
  const max = limit(timeoutMs);
  const t0 = Date.now();
  // A condition that throws or hangs (a request timing out on a loaded machine) is simply not met yet.
  const attempt = (): Promise<boolean> => {
    let timer: NodeJS.Timeout | undefined;
    const hung = new Promise<boolean>((r) => { timer = setTimeout(() => r(false), 30_000); });
    return Promise.race([Promise.resolve().then(cond).catch(() => false), hung]).finally(() => clearTimeout(timer));
  };
  while (!(await attempt())) {
    if (Date.now() - t0 > max) throw new Error(`timed out waiting for ${what} (${max} ms)${budget ? `\n${budget.report()}` : ''}${detail() ? `\n${detail()}` : ''}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Partitions with a live lease, and the instances holding them. */
export async function leaseHolders(nc: NatsConnection, partitions: number, group = 'edgelstm'): Promise<Map<number, string>> {
  // bindOnly: a test must never make the bucket itself (it would have no time to live)
  const kv = await nc.jetstream({ timeout: 30_000 }).views.kv(`${group}_leases`, { bindOnly: true });
  const out = new Map<number, string>();
  await Promise.all(Array.from({ length: partitions }, async (_, p) => {
    const e = await kv.get(`p${p}`);
    if (e !== null && e.operation === 'PUT') out.set(p, e.string());
  }));
  return out;
}

/** Waits until every partition has an owner among `instances`, each instance owning some. */
export async function untilBalanced(nc: NatsConnection, partitions: number, instances: string[], timeoutMs = 30_000, detail: () => string = () => ''): Promise<Map<number, string>> {
  let last = new Map<number, string>();
  await until(async () => {
    last = await leaseHolders(nc, partitions).catch(() => new Map<number, string>());
    const owners = new Set(last.values());
    return last.size === partitions && instances.every((i) => owners.has(i)) && [...owners].every((o) => instances.includes(o));
  }, timeoutMs, `${partitions} partitions owned by ${instances.join(', ')}`, () => `${JSON.stringify([...last])}\n${detail()}`);
  return last;
}

/**
 * What must hold after any fault: every reading has a result; at most one
 * result of a reading lacks the redelivery flag (a new owner cannot know
 * whether its predecessor published a reading it had been given, so it flags
 * its answer); every result is the text one uninterrupted engine computes.
 */
export function checkExactlyOnce(t: Test, got: string[], reference: Map<string, string>): { flagged: number } {
  const plain = new Map<string, number>();
  const seen = new Set<string>();
  let flagged = 0;
  let wrong = 0;
  for (const text of got) {
    const r = JSON.parse(text) as { device: string; ts: number; redelivered?: boolean };
    const key = `${r.device}@${r.ts}`;
    seen.add(key);
    const bare = r.redelivered === true ? text.replace(',"redelivered":true}', '}') : text;
    if (reference.get(key) !== bare) {
      if (wrong++ < 3) t.fail(`result for ${key} differs from the uninterrupted run`, { found: bare, wanted: reference.get(key) });
    }
    if (r.redelivered === true) flagged++;
    else plain.set(key, (plain.get(key) ?? 0) + 1);
  }
  t.equal(wrong, 0, 'every result equals the uninterrupted run, bit for bit');
  const missing = [...reference.keys()].filter((k) => !seen.has(k));
  t.equal(missing.length, 0, 'no reading without a result', { missing: missing.slice(0, 20) });
  const twice = [...plain].filter(([, n]) => n > 1).map(([k]) => k);
  t.equal(twice.length, 0, 'no reading with two unflagged results', { twice: twice.slice(0, 20) });
  t.equal([...seen].filter((k) => !reference.has(k)).length, 0, 'no result for a reading that was never sent');
  return { flagged };
}

