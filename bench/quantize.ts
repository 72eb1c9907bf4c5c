/**
 * int8 against fp32: `npm run bench:quantize` (add `--quick` for a short run,
 * `--backend wasm` for onnxruntime-web). One LSTM step (seq 1) for a batch of
 * 1, 256 and 4096 devices, H = 32 and 64, one thread, through the same
 * backend the engine uses. Prints one table: file size, median time per call
 * and per device, and each int8 mode's ratio to fp32 (time ratio < 1 is
 * faster). Never part of `npm test`: a test never asserts a wall-clock time.
 */
import { loadModel, type Model } from '../runtime/model/load-model';
import { buildLstmModel } from '../runtime/onnx/lstm-graph';
import { encodeMetadata } from '../runtime/model/metadata';
import { randomWeights } from '../runtime/model/weights';
import { quantizeModel, type QuantizeMode } from '../models/quantize/quantize-model';

const quick = process.argv.includes('--quick');
const backendArg = process.argv[process.argv.indexOf('--backend') + 1];
const backend = process.argv.includes('--backend') && backendArg === 'wasm' ? 'wasm' : 'native';

function fp32Model(H: number): Uint8Array {
  return buildLstmModel(randomWeights(1, H, 1, 1, 42), {
    metadata: encodeMetadata({
      format: 1, name: `bench-h${H}`, version: '1.0.0', features: ['value'], targets: ['value'],
      normalization: { mode: 'per-device', window: 500, minStd: 1e-3 },
      io: { x: 'x', h0: 'h0', c0: 'c0', y: 'y', hn: 'hn', cn: 'cn' }, quantization: { scheme: 'none' },
    }),
  });
}

function median(a: number[]): number {
  const s = [...a].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)]!;
}

/** One timed call, in microseconds. */
async function timeCall(m: Model, x: Float32Array, h: Float32Array, c: Float32Array, batch: number): Promise<number> {
  const t0 = process.hrtime.bigint();
  await m.backend.run(x, h, c, 1, batch);
  return Number(process.hrtime.bigint() - t0) / 1000;
}

/**
 * Median microseconds per call of each model. The models take turns, a few
 * calls each, for the whole time budget: on a shared machine the load drifts,
 * and interleaving puts every model under the same drift.
 */
async function timeModels(models: Model[], batch: number): Promise<number[]> {
  const { H, L } = models[0]!.dims;
  const x = Float32Array.from({ length: batch }, (_, i) => Math.sin(i));
  const h = new Float32Array(L * batch * H);
  const c = new Float32Array(L * batch * H);
  for (const m of models) for (let i = 0; i < 20; i++) await m.backend.run(x, h, c, 1, batch);
  const budgetMs = (quick ? 300 : 3000) * models.length;
  const times: number[][] = models.map(() => []);
  const start = performance.now();
  while (performance.now() - start < budgetMs || times[0]!.length < 15) {
    for (let k = 0; k < models.length; k++) for (let i = 0; i < 5; i++) times[k]!.push(await timeCall(models[k]!, x, h, c, batch));
  }
  return times.map(median);
}

async function main(): Promise<void> {
  const kinds: Array<{ label: string; mode?: QuantizeMode }> = [{ label: 'fp32' }, { label: 'int8-weight', mode: 'weight' }, { label: 'int8-dynamic', mode: 'dynamic' }];
  const header = ['backend', 'H', 'batch', 'model', 'bytes', 'size x', 'us/call', 'ns/device', 'time vs fp32'];
  const rows: string[][] = [];
  for (const H of [32, 64]) {
    const fp32 = fp32Model(H);
    const files = kinds.map((k) => (k.mode ? quantizeModel(fp32, { mode: k.mode }) : fp32));
    const models = await Promise.all(files.map((b) => loadModel(b, { backend, threads: 1 })));
    for (const batch of [1, 256, 4096]) {
      const us = await timeModels(models, batch);
      kinds.forEach((k, i) => {
        rows.push([backend, String(H), String(batch), k.label, String(files[i]!.length), (fp32.length / files[i]!.length).toFixed(2), us[i]!.toFixed(1), ((us[i]! * 1000) / batch).toFixed(0), (us[i]! / us[0]!).toFixed(2)]);
      });
    }
    for (const m of models) await m.release();
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]): string => `| ${r.map((c, i) => c.padStart(widths[i]!)).join(' | ')} |`;
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of rows) console.log(line(r));
  console.log(`\nmedians of one-step calls (seq 1), 1 thread, models interleaved; ${quick ? 'quick run' : '3 s per model and cell'}; node ${process.version}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
