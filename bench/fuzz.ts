/**
 * `npm run fuzz [-- --payloads N]`: N fuzzed payloads through a real Mosquitto into the real service (its own
 * process, `edgelstm run`, as deployed), with control devices' readings interleaved. Reports crashes, the
 * service's invalid counters per code against what each payload must give, results against valid readings,
 * the service's peak RSS, and whether the control devices' results are bit-identical to a clean engine fed
 * only their readings. Exit 1 on any crash or mismatch. Issue 14, deliver 5.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { parseArgs, type OptionSpecs } from '../runtime/cli/args';
import { Engine } from '../runtime/engine/engine';
import { validateSample, type Result } from '../runtime/engine/sample';
import { EdgeLstmError } from '../runtime/errors';
import { loadModel } from '../runtime/model/load-model';
import { defaultModelPath } from '../runtime/model/default-model';
import { freePort } from '../runtime/net/free-port';
import { readSamples } from '../runtime/reading/samples';
import { outsideWindow } from '../runtime/service/ingest';

const SPECS = {
  payloads: { type: 'number', integer: true, min: 1, description: 'fuzzed payloads', default: 20_000 },
  seed: { type: 'number', integer: true, min: 0, description: 'random seed', default: 14 },
  'control-devices': { type: 'number', integer: true, min: 1, description: 'devices with clean readings among the fuzz', default: 5 },
  'control-every': { type: 'number', integer: true, min: 1, description: 'one control reading per this many fuzzed payloads', default: 20 },
  inflight: { type: 'number', integer: true, min: 1, description: 'QoS 1 publishes in flight', default: 500 },
  mosquitto: { type: 'string', description: 'mosquitto binary', default: '/usr/sbin/mosquitto' },
  'broker-log': { type: 'string', description: 'Mosquitto log types, comma-separated (all: every packet, with PINGREQ/PINGRESP; set EDGELSTM_FUZZ_KEEP=1 to keep the file)', default: 'error,warning,notice' },
  'log-level': { type: 'string', description: 'the service\'s log level (info shows its connects and keepalive timeouts)', default: 'error' },
  'service-args': { type: 'string', description: 'more options for `edgelstm run`, space-separated (e.g. "--max-devices 20000")' },
  'node-args': { type: 'string', description: 'options for the service\'s node, space-separated (e.g. "--heapsnapshot-signal=SIGUSR2")' },
  'sample-s': { type: 'number', min: 0.5, description: 'seconds between samples of the service\'s memory (the report\'s memory curve)', default: 5 },
} satisfies OptionSpecs;

const MAX_PAYLOAD = 65536;
const SKEW_MS = 86_400_000;

/** One sample of the service's memory (MB) and load, `s` seconds after the first payload. */
interface MemorySample {
  s: number;
  sent: number;
  rssMB: number;
  heapUsedMB: number;
  heapTotalMB: number;
  externalMB: number;
  arrayBuffersMB: number;
  devices: number;
  queue: number;
  held: number;
  resultsUnacked: number;
  writeBufferedMB: number;
  in: number;
  results: number;
}

/** xorshift32: the same payloads for the same seed. */
function rng(seed: number): () => number {
  let x = seed || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

async function main(): Promise<number> {
  const { values: o } = parseArgs(process.argv.slice(2), SPECS);
  const rand = rng(o.seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const model = defaultModelPath();
  const ref = await loadModel(model, { backend: 'native' });
  const features = ref.metadata.features;
  const dir = mkdtempSync(join(tmpdir(), 'edgelstm-fuzz-'));
  const port = await freePort();
  writeFileSync(join(dir, 'm.conf'), `listener ${port} 127.0.0.1\nallow_anonymous true\nuser root\nmax_inflight_messages 1000\nmax_queued_messages 1000000\nlog_dest file ${join(dir, 'mosquitto.log')}\nlog_timestamp_format %H:%M:%S\n${o['broker-log'].split(',').map((x) => `log_type ${x.trim()}\n`).join('')}`);
  const broker = spawn(o.mosquitto, ['-c', join(dir, 'm.conf')], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 400));
  const metricsPort = await freePort();
  const words = (x: string | undefined): string[] => (x ?? '').split(' ').filter((w) => w.length > 0);
  const svc = spawn(process.execPath, [...words(o['node-args']), 'dist/runtime/cli/main.js', 'run', '--broker', `mqtt://127.0.0.1:${port}`, '--model', model, '--backend', 'native', '--input', 'fuzz/+/in',
    '--client-id', 'fuzz-svc', '--qos', '1', '--metrics-port', String(metricsPort), '--watch-model=false', '--log-level', o['log-level'], '--max-payload-bytes', String(MAX_PAYLOAD), ...words(o['service-args'])], { stdio: ['ignore', 'pipe', 'pipe'] });
  let svcLog = '';
  // Connections to the broker and why they ended (with --log-level info or lower); the full log kept with EDGELSTM_FUZZ_KEEP.
  let connects = 0;
  const disconnects = new Map<string, number>();
  const keep = process.env['EDGELSTM_FUZZ_KEEP'] ? join(dir, 'service.log') : undefined;
  const onLog = (b: Buffer): void => {
    const text = b.toString();
    svcLog = (svcLog + text).slice(-20_000);
    if (keep) appendFileSync(keep, text);
    for (const line of text.split('\n')) {
      if (line.includes('"connected to broker"')) connects++;
      const m = /"err":"([^"]*)","msg":"broker connection error"/.exec(line);
      if (m) disconnects.set(m[1]!, (disconnects.get(m[1]!) ?? 0) + 1);
    }
  };
  svc.stdout!.on('data', onLog);
  svc.stderr!.on('data', onLog);
  let crashed: string | undefined;
  let stopping = false;
  svc.on('exit', (code, sig) => {
    if (!stopping) crashed ??= `service exited (code ${code}, signal ${sig})`;
  });
  const stopAll = async (): Promise<void> => {
    stopping = true;
    if (svc.exitCode === null) {
      svc.kill('SIGTERM');
      await once(svc, 'exit');
    }
    broker.kill('SIGTERM');
    if (process.env['EDGELSTM_FUZZ_KEEP']) process.stderr.write(`fuzz: broker log and files kept in ${dir}\n`);
    else rmSync(dir, { recursive: true, force: true });
  };
  // However the run ends (an exception, SIGINT or SIGTERM included), the broker and the service go with it.
  process.on('exit', () => {
    if (svc.exitCode === null) svc.kill('SIGKILL');
    if (broker.exitCode === null) broker.kill('SIGKILL');
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));
  const t0 = Date.now();
  while (!svcLog.includes('metrics on') && svc.exitCode === null && Date.now() - t0 < 60_000) await new Promise((r) => setTimeout(r, 50));
  const pid = svc.pid!;
  let peakRss = 0;
  const rssNow = (): number => {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      return m ? Number(m[1]) * 1024 : 0;
    } catch {
      return 0; // exited
    }
  };
  const rssTimer = setInterval(() => {
    peakRss = Math.max(peakRss, rssNow());
  }, 100);
  const startRss = rssNow();

  const sub = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: 'fuzz-sub' });
  const control = new Map<string, Result[]>();
  sub.on('message', (_t, p) => {
    const r = JSON.parse(p.toString()) as Result;
    control.get(r.device)?.push(r);
  });
  const pub = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: 'fuzz-pub' });

  // What each payload must give, by the service's own contract.
  const expected = new Map<string, number>();
  let expectedResults = 0;
  const expect = (payload: Buffer): void => {
    const now = Date.now();
    try {
      const samples = readSamples(payload, { features, deviceField: 'device', maxBytes: MAX_PAYLOAD, device: { id: undefined, missing: () => new EdgeLstmError('E_PAYLOAD', 'no device') } });
      for (const s of samples) {
        let code: string | undefined;
        if (s.ts !== undefined) code = outsideWindow(s, SKEW_MS, 0, now)?.code;
        if (code === undefined) {
          try {
            validateSample(s, features);
          } catch (e) {
            code = (e as EdgeLstmError).code;
          }
        }
        if (code === undefined) expectedResults++;
        else expected.set(code, (expected.get(code) ?? 0) + 1);
      }
    } catch (e) {
      const code = (e as EdgeLstmError).code ?? 'E_PAYLOAD';
      expected.set(code, (expected.get(code) ?? 0) + 1);
    }
  };

  const weird = ['\u0000', '\u0001', '\u001f', '\u007f', '\u0085', '\u009f', '\ufdd0', '\uffff', '\ud800', '\udfff', '/', '+', '#', 'é', '\u{1f600}', ' ', '"', '\\'];
  const id = (i: number): string => {
    const n = Math.floor(rand() * 6);
    let s = '';
    for (let k = 0; k < n; k++) s += rand() < 0.5 ? pick(weird) : String.fromCharCode(97 + Math.floor(rand() * 26));
    if (rand() < 0.01) s += 'x'.repeat(200 + Math.floor(rand() * 2000)); // beyond the 256-character id limit, sometimes
    return `f${i}-${s}`;
  };
  const tsChoices = (): unknown => pick([undefined, undefined, Date.now() - Math.floor(rand() * 3.6e6), 1e300, -5, Date.now() * 1000, Date.now() + 10 * 86_400_000, '2026-01-01T00:00:00Z', 'yesterday', null, Number.MAX_VALUE]);
  const value = (): unknown => (rand() < 0.7 ? rand() * 100 : pick([-rand() * 1e6, 0, -0, 1e308, 'NaN', null, true, [], {}, '12', 5e-324]));
  const valuesArr = (): unknown => Array.from({ length: pick([0, 1, features.length, features.length + 1, 3]) }, value);
  const gen = (i: number): Buffer => {
    switch (Math.floor(rand() * 10)) {
      case 0: {
        const b = Buffer.alloc(Math.floor(rand() * 64));
        for (let k = 0; k < b.length; k++) b[k] = Math.floor(rand() * 256);
        return b;
      }
      case 1:
        return Buffer.from(String(value()));
      case 2: {
        const txt = JSON.stringify({ device: id(i), value: value(), ts: tsChoices() });
        return Buffer.from(txt.slice(0, Math.floor(rand() * txt.length))); // cut short
      }
      case 3:
        return Buffer.from(JSON.stringify({ device: id(i), values: valuesArr(), ts: tsChoices() }));
      case 4:
        return Buffer.from(JSON.stringify([{ bn: `urn:dev:${id(i)}:`, bt: pick([undefined, Date.now() / 1000, 1e300, 5]), n: pick([features[0], 'nope', undefined]), v: value() }, { bn: `urn:dev:${id(i)}b:`, n: features[0], v: value(), t: pick([undefined, 0, -1, 1e12]) }]));
      case 5:
        return Buffer.from(`${'['.repeat(Math.floor(rand() * 5000))}1`);
      case 6:
        if (rand() < 0.8) return Buffer.from(JSON.stringify({ device: id(i), value: value(), ts: Date.now() - 1000 }));
        return Buffer.from(JSON.stringify({ device: id(i), value: 1, ts: tsChoices(), extra: 'x'.repeat(Math.floor(rand() * 80_000)) }));
      case 7:
        return Buffer.from(JSON.stringify({ [pick(['device', 'dev', '__proto__', 'constructor'])]: pick([id(i), 7, null, '']), value: value() }));
      default:
        return Buffer.from(JSON.stringify({ device: id(i), value: value(), ts: tsChoices() }));
    }
  };

  const ctlIds = Array.from({ length: o['control-devices'] }, (_, d) => `ctl-${d}`);
  for (const d of ctlIds) control.set(d, []);
  await sub.subscribeAsync(ctlIds.map((d) => `edgelstm/${d}/result`), { qos: 1 });
  const ctlReadings: { device: string; ts: number; value: number }[] = [];
  const ctlTs0 = Date.now() - 3_600_000;
  let ctlSent = 0;
  let inflight = 0;
  let sent = 0;
  const waiters: (() => void)[] = [];
  const send = async (payload: Buffer, topic: string): Promise<void> => {
    while (inflight >= o.inflight) await new Promise<void>((r) => waiters.push(r));
    inflight++;
    sent++;
    pub.publish(topic, payload, { qos: 1 }, () => {
      inflight--;
      waiters.shift()?.();
    });
  };
  const started = Date.now();
  // The service's memory over time, from its /metrics (RSS from /proc at the same moment); progress on stderr every 30 s.
  const curve: MemorySample[] = [];
  let lastProgress = started;
  const takeSample = (): Promise<void> =>
    fetch(`http://127.0.0.1:${metricsPort}/metrics`)
      .then((r) => r.text())
      .then((m) => {
        const n = (name: string): number => m.split('\n').filter((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`)).reduce((a, l) => a + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
        const mb = (name: string): number => Math.round(n(name) / 1e6);
        const s: MemorySample = {
          s: Math.round((Date.now() - started) / 100) / 10, sent, rssMB: Math.round(rssNow() / 1e6), heapUsedMB: mb('nodejs_heap_size_used_bytes'), heapTotalMB: mb('nodejs_heap_size_total_bytes'),
          externalMB: mb('nodejs_external_memory_bytes'), arrayBuffersMB: mb('nodejs_array_buffers_bytes'), devices: n('edgelstm_active_devices'), queue: n('edgelstm_queue_depth'), held: n('edgelstm_acks_held'),
          resultsUnacked: n('edgelstm_results_unacked'), writeBufferedMB: mb('edgelstm_socket_write_buffered_bytes'),
          in: n('edgelstm_messages_in_total'), results: n('edgelstm_results_out_total'),
        };
        curve.push(s);
        if (Date.now() - lastProgress >= 30_000) {
          lastProgress = Date.now();
          process.stderr.write(`fuzz: ${Math.round((Date.now() - started) / 1000)} s: sent ${sent}, service in ${s.in}, results ${s.results}, invalid ${n('edgelstm_messages_invalid_total')}, connects ${connects}, RSS ${s.rssMB} MB (peak ${Math.round(peakRss / 1e6)}), heap ${s.heapUsedMB}, external ${s.externalMB}, arrayBuffers ${s.arrayBuffersMB}, devices ${s.devices}, queue ${s.queue}, held ${s.held}, results unacked ${s.resultsUnacked}, socket buffer ${s.writeBufferedMB} MB\n`);
        }
      })
      .catch(() => undefined);
  const sample = setInterval(() => void takeSample(), o['sample-s'] * 1000);
  for (let i = 0; i < o.payloads && !crashed; i++) {
    const p = gen(i);
    expect(p);
    await send(p, `fuzz/${pick(['a', 'b', 'é', 'x y', '\u{1f600}'])}/in`);
    if (i % o['control-every'] === 0) {
      const d = ctlIds[ctlSent % ctlIds.length]!;
      const r = { device: d, ts: ctlTs0 + ctlSent * 100, value: Math.sin(ctlSent / 7) * 10 + 20 };
      ctlSent++;
      ctlReadings.push(r);
      const cp = Buffer.from(JSON.stringify({ device: d, value: r.value, ts: r.ts }));
      expect(cp);
      await send(cp, 'fuzz/ctl/in');
    }
  }
  while (inflight > 0) await new Promise<void>((r) => waiters.push(r));
  const sendMs = Date.now() - started;

  // A starved service may not answer one scrape in time (a 1M run here lost its report to one "fetch failed"): retried.
  const metrics = async (): Promise<string> => {
    for (let attempt = 1; ; attempt++) {
      try {
        return await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { signal: AbortSignal.timeout(30_000) })).text();
      } catch (e) {
        if (attempt >= 10 || crashed) throw e;
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  };
  const counter = (text: string, name: string, code?: string): number => {
    let sum = 0;
    for (const line of text.split('\n')) {
      if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
      if (code !== undefined && !line.includes(`code="${code}"`)) continue;
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
    return sum;
  };
  // Every message in; every reading settled (results and refusals stop moving).
  let text = '';
  const expectedInvalid = [...expected.values()].reduce((a, b) => a + b, 0);
  // A starved service may lag far behind the sender: wait while it still makes progress (stalled for 60 s: stop).
  let settled = -1;
  let movedAt = Date.now();
  while (!crashed && Date.now() - movedAt < 60_000) {
    text = await metrics();
    const done = counter(text, 'edgelstm_results_out_total') + counter(text, 'edgelstm_messages_invalid_total') + counter(text, 'edgelstm_duplicates_total');
    if (counter(text, 'edgelstm_messages_in_total') >= sent && done >= expectedResults + expectedInvalid) break;
    if (done !== settled) {
      settled = done;
      movedAt = Date.now();
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, 500));
  text = await metrics();
  clearInterval(sample);
  await takeSample(); // the settled state, and a sample at all in a short run
  clearInterval(rssTimer);

  // The clean run: an engine fed only the control readings, in order.
  const e = new Engine(ref, {});
  const clean = await Promise.all(ctlReadings.map((r) => e.push({ device: r.device, ts: r.ts, values: [r.value] })));
  await e.close();
  let controlMismatches = 0;
  const cleanBy = new Map(clean.map((r) => [`${r.device}@${r.ts}`, r]));
  let controlResults = 0;
  for (const rs of control.values()) {
    for (const r of rs) {
      controlResults++;
      const c = cleanBy.get(`${r.device}@${r.ts}`);
      if (!c || JSON.stringify(c.forecast) !== JSON.stringify(r.forecast) || !Object.is(c.score, r.score) || c.anomaly !== r.anomaly) controlMismatches++;
    }
  }

  const codes = new Set([...expected.keys(), 'E_PAYLOAD', 'E_BAD_VALUE', 'E_BAD_LENGTH', 'E_BAD_DEVICE', 'E_BAD_TIMESTAMP', 'E_TOPIC']);
  const rows = [...codes].sort().map((c) => ({ code: c, expected: expected.get(c) ?? 0, counted: counter(text, 'edgelstm_messages_invalid_total', c) }));
  const results = counter(text, 'edgelstm_results_out_total');
  // Readings of one device with a timestamp not after its last (SenML base names may cut to the same id) are
  // answered as redeliveries: each valid reading gives a result or a duplicate, never neither.
  const duplicates = counter(text, 'edgelstm_duplicates_total');
  const mismatches = rows.filter((r) => r.expected !== r.counted).length + (results + duplicates === expectedResults ? 0 : 1) + controlMismatches + (controlResults === ctlReadings.length ? 0 : 1);
  await sub.endAsync();
  await pub.endAsync();
  await stopAll();
  await ref.release();
  const report = {
    payloads: o.payloads, controlReadings: ctlReadings.length, messages: sent, sendSeconds: sendMs / 1000,
    crashes: crashed ? 1 : 0, crash: crashed ?? null,
    invalidByCode: rows, results: { validReadings: expectedResults, results, duplicates, exact: results + duplicates === expectedResults },
    control: { results: controlResults, expected: ctlReadings.length, mismatches: controlMismatches, bitIdentical: controlMismatches === 0 && controlResults === ctlReadings.length },
    rssMB: { start: Math.round(startRss / 1e6), peak: Math.round(peakRss / 1e6) },
    // The sample of highest RSS (its parts) and the curve: every --sample-s seconds.
    memoryAtPeak: curve.reduce<MemorySample | null>((a, c) => (a === null || c.rssMB > a.rssMB ? c : a), null),
    memory: curve,
    broker: { connects, connectionErrors: Object.fromEntries(disconnects) },
    // Error reports (QoS 0) the service dropped while its socket held more than 4 MiB not yet written.
    errorReportsDropped: counter(text, 'edgelstm_error_reports_dropped_total'),
    mismatches,
  };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  if (crashed) process.stderr.write(`service log tail:\n${svcLog.slice(-4000)}\n`);
  return crashed || mismatches > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`fuzz: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(2);
  },
);
