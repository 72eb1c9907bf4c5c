/**
 * Model hot reload and resident memory: `node dist/bench/reload.js [reloads]`.
 * A service on an embedded broker, readings flowing from 100 devices, the
 * model swapped N times (default 50) between two files of the same
 * architecture (states kept) and, every 10th, one of another architecture
 * (states reset). ONNX Runtime sessions have leaked on create/release in Node
 * (microsoft/onnxruntime#25325), so RSS is sampled after each reload (after a
 * GC when run with --expose-gc). Prints a table and the growth.
 */
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import pino from 'pino';
import { parseArgs } from '../runtime/cli/args';
import { encodeMetadata } from '../runtime/model/metadata';
import { buildLstmModel } from '../runtime/onnx/lstm-graph';
import { randomWeights } from '../runtime/contract/weights';
import { RUN_SPECS, resolveServiceConfig } from '../runtime/service/config';
import { MqttService } from '../runtime/service/service';

function writeModel(dir: string, name: string, H: number, seed: number): string {
  const w = randomWeights(1, H, 1, 1, seed);
  const metadata = encodeMetadata({
    format: 1, name: `bench-h${H}`, version: `1.0.${seed}`, features: ['value'], targets: ['value'],
    normalization: { mode: 'per-device', window: 100, minStd: 1e-3 },
    io: { x: 'x', h0: 'h0', c0: 'c0', y: 'y', hn: 'hn', cn: 'cn' }, quantization: { scheme: 'none' },
  });
  const p = join(dir, name);
  writeFileSync(p, buildLstmModel(w, { metadata }));
  return p;
}

const mb = (b: number): string => (b / 1048576).toFixed(1);

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 50);
  const dir = mkdtempSync(join(tmpdir(), 'edgelstm-reload-'));
  const a = writeModel(dir, 'a.onnx', 32, 1);
  const b = writeModel(dir, 'b.onnx', 32, 2);
  const c = writeModel(dir, 'c.onnx', 64, 3);
  const { values } = parseArgs(['--embedded-port', '0', '--metrics-port', '0', '--watch-model=false', '--client-id', 'bench-reload', '--models-dir', dir, '--allow-unsigned-models'], RUN_SPECS);
  const svc = await MqttService.start(resolveServiceConfig(values, {}), a, pino({ level: 'silent' }));
  const pub = await mqtt.connectAsync(svc.brokerUrl, { clientId: 'bench-pub' });
  let i = 0;
  const feed = setInterval(() => {
    for (let d = 0; d < 100; d++) pub.publish(`sensors/d${d}/telemetry`, String(Math.sin(i / 7 + d)), { qos: 0 });
    i++;
  }, 5);
  const gc = (globalThis as { gc?: () => void }).gc;
  const rss = (): number => {
    gc?.();
    return process.memoryUsage().rss;
  };
  for (let k = 0; k < 5; k++) await svc.reload({ path: k % 2 ? a : b }); // warm-up: allocator pools settle
  const start = rss();
  const samples: number[] = [];
  for (let k = 0; k < n; k++) {
    const ok = await svc.reload({ path: k % 10 === 9 ? c : k % 2 ? a : b });
    if (!ok) throw new Error(`reload ${k} failed`);
    await new Promise((r) => setTimeout(r, 20));
    samples.push(rss());
  }
  clearInterval(feed);
  const end = samples[samples.length - 1]!;
  process.stdout.write(`| reloads | RSS before (MB) | RSS after 10 | after 25 | after ${n} (MB) | growth (MB) | per reload (KB) | gc |\n|---|---|---|---|---|---|---|---|\n`);
  process.stdout.write(`| ${n} | ${mb(start)} | ${mb(samples[Math.min(9, n - 1)]!)} | ${mb(samples[Math.min(24, n - 1)]!)} | ${mb(end)} | ${mb(end - start)} | ${((end - start) / n / 1024).toFixed(0)} | ${gc ? 'forced' : 'not forced (run with --expose-gc)'} |\n`);
  process.stdout.write(`readings processed meanwhile: ${svc.metrics.resultsOut.get ? (await svc.metrics.resultsOut.get()).values[0]?.value ?? 0 : 0}\n`);
  await pub.endAsync();
  await svc.stop();
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exitCode = 1;
});
