import t from 'tap';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import mqtt from 'mqtt';
import { tempDir, writeTestModel } from '../helpers/models';
import { MOSQUITTO, freePort, startMosquitto, until } from './helpers';

// A publisher floods a real Mosquitto faster than the service steps; the service (its own process, so its
// resident memory is its own) must hold at most --queue-size readings and leave the backlog with the broker.
const skip = existsSync(MOSQUITTO) ? false : 'mosquitto not installed';
const dir = tempDir('edgelstm-flood-');
// A slow engine on purpose (the TypeScript reference LSTM, H=64, 8 devices per call), so the flood outruns it.
const modelPath = writeTestModel(dir, { normalization: { mode: 'per-device', window: 100, minStd: 1e-3 }, hidden: 64 });
const N = 25_000;
const PAD = 6000; // bytes of JSON whitespace per reading: the flood is N * PAD = 150 MB

// What is measured is what the service holds, not how large V8 lets its young generation grow before a
// scavenge: V8 sizes that from the heap limit, and on this machine Node 24 (V8 13) lets new_space grow to
// 64 MiB where Node 20 stopped at 32 MiB. 8 MB semi-spaces make the measure the same on every Node.
const YOUNG_GENERATION = '--max-semi-space-size=8';

const rssMb = (pid: number): number => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

t.test('memory stays bounded while a publisher floods', { skip: skip || (process.platform !== 'linux' ? 'reads /proc' : false) }, async (t) => {
  const port = await freePort();
  // No inflight cap at the broker and MQTT 3.1.1 (no receive maximum): only the service's own backpressure bounds what it holds.
  const broker = await startMosquitto(dir, port, ['allow_anonymous true', 'max_inflight_messages 0', 'max_queued_messages 0'], 'flood.conf');
  t.teardown(() => void broker.kill('SIGKILL'));
  const metricsPort = await freePort();
  const svc = spawn(process.execPath, [YOUNG_GENERATION, 'dist/runtime/cli/main.js', 'run', '--broker', `mqtt://127.0.0.1:${port}`, '--model', modelPath, '--protocol', '3.1.1', '--clean-start',
    '--queue-size', '500', '--backend', 'reference', '--max-batch', '8', '--max-payload-bytes', String(PAD + 200), '--metrics-port', String(metricsPort), '--watch-model=false', '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => void svc.kill('SIGKILL'));
  let out = '';
  svc.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  await until(() => out.includes('metrics on') || svc.exitCode !== null, 30_000, 'service started');
  const results = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: 'flood-results' });
  t.teardown(() => results.end(true));
  let got = 0;
  results.on('message', () => got++);
  await results.subscribeAsync('edgelstm/+/result', { qos: 0 });
  const pub = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: 'flood-pub' });
  t.teardown(() => pub.end(true));
  // Warm up: the devices' slots and the runtime's pools exist before the baseline is taken.
  const pad = ' '.repeat(PAD);
  for (let i = 0; i < 500; i++) pub.publish(`sensors/f${i % 50}/telemetry`, `{"value":${i % 7}}${pad}`, { qos: 1 });
  await until(() => got >= 500, 30_000, 'warm-up results');
  const baseline = rssMb(svc.pid!);
  let peak = baseline;
  const sampler = setInterval(() => (peak = Math.max(peak, rssMb(svc.pid!))), 25);
  for (let i = 0; i < N; i++) pub.publish(`sensors/f${i % 50}/telemetry`, `{"value":${i % 7}}${pad}`, { qos: 1 });
  await until(() => got >= 500 + N, 90_000, `flood results (have ${got})`);
  clearInterval(sampler);
  const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  const highWater = Number(/edgelstm_queue_high_water (\d+)/.exec(metrics)?.[1]);
  t.equal(highWater, 500, 'the queue filled up to its bound and no further: the flood outran the engine and was held back');
  t.ok(peak - baseline < 60, `resident memory grew by ${(peak - baseline).toFixed(1)} MB while ${(N * PAD / 1e6).toFixed(0)} MB were flooded (baseline ${baseline.toFixed(0)} MB)`);
  t.equal(got, 500 + N, 'every reading still yielded its result');
  svc.kill('SIGTERM');
  await once(svc, 'exit');
});
