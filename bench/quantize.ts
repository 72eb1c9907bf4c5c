/**
 * int8 against fp32: `npm run bench:quantize` (add `--quick` for a short run,
 * `--backend native` or `--backend wasm` for one of them). One LSTM step
 * (seq 1) for a batch of 1, 256 and 4096 devices (`--batch`), H = 32, 64 and 128 (`--hidden`), one
 * thread, through the same backend the engine uses, for fp32 and the three
 * int8 forms (weight, dynamic, static), native (onnxruntime-node) and wasm
 * (onnxruntime-web) in the same run. Prints the CPU's int8 features, then one
 * table: file size, median time per call and per device, device-steps per
 * second and each int8 form's speed against fp32 (above 1 is faster). Never
 * part of `npm test`: a test never asserts a wall-clock time.
 *
 * `--profile` (with `--hidden`, `--batch`; `--stat median`) prints instead
 * where one step's time goes, fp32 against int8-static, from ONNX Runtime's
 * profiler (quantize-profile.ts). Timings taken under qemu emulation (an
 * arm64 check on an x86 host) measure the emulator, not the board: run this
 * on the board itself.
 */
import { readFileSync } from 'node:fs';
import { loadModel, type Model } from '../runtime/model/load-model';
import { buildLstmModel } from '../runtime/onnx/lstm-graph';
import { encodeMetadata } from '../runtime/model/metadata';
import { randomWeights } from '../runtime/contract/weights';
import { quantizeModel, type QuantizeMode } from '../models/quantize/quantize-model';
import { profileStep } from './quantize-profile';

const quick = process.argv.includes('--quick');
const backendArg = process.argv.includes('--backend') ? process.argv[process.argv.indexOf('--backend') + 1] : undefined;
const backends: Array<'native' | 'wasm'> = backendArg === 'wasm' || backendArg === 'native' ? [backendArg] : ['native', 'wasm'];
/** `--hidden 64,128` and `--batch 4096` narrow the table to some cells (the rest of the run is the same). */
function listArg(name: string, all: number[]): number[] {
  const i = process.argv.indexOf(name);
  if (i < 0) return all;
  const v = (process.argv[i + 1] ?? '').split(',').map(Number).filter((n) => Number.isInteger(n) && n > 0);
  if (v.length === 0) throw new Error(`${name}: expected a comma-separated list of positive integers, found ${JSON.stringify(process.argv[i + 1])}`);
  return v;
}
const hiddens = listArg('--hidden', quick ? [32, 64] : [32, 64, 128]);
const batches = listArg('--batch', [1, 256, 4096]);

/** The flags of /proc/cpuinfo that speed up int8 products (x86: VNNI, AMX; arm64: dot product, i8mm). */
function cpuInt8Features(): string {
  let text = '';
  try {
    text = readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return `${process.arch}: /proc/cpuinfo not readable`;
  }
  const model = /^(model name|Model|CPU part)\s*:\s*(.+)$/m.exec(text)?.[2] ?? 'unknown CPU';
  const flags = new Set((/^(flags|Features)\s*:\s*(.+)$/m.exec(text)?.[2] ?? '').split(/\s+/));
  const wanted = process.arch === 'arm64' || process.arch === 'arm' ? ['asimd', 'asimddp', 'i8mm', 'sve', 'sve2', 'svei8mm'] : ['sse4_1', 'avx2', 'avx512f', 'avx512bw', 'avx512_vnni', 'avx_vnni', 'avx_vnni_int8', 'amx_tile', 'amx_int8'];
  const have = wanted.filter((f) => flags.has(f));
  const missing = wanted.filter((f) => !flags.has(f));
  return `${process.arch}, ${model.trim()}: int8 features present [${have.join(' ')}], absent [${missing.join(' ')}]`;
}

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

async function profile(): Promise<void> {
  const kind = process.argv.includes('--stat') && process.argv[process.argv.indexOf('--stat') + 1] === 'median' ? 'median' : 'min';
  for (const H of hiddens) {
    const fp32 = fp32Model(H);
    const int8Static = quantizeModel(fp32, { mode: 'static' });
    for (const batch of batches) for (const line of await profileStep({ fp32, int8Static }, H, batch, quick ? 20 : 100, kind)) console.log(line);
  }
}

async function main(): Promise<void> {
  console.log(cpuInt8Features());
  if (process.argv.includes('--profile')) return profile();
  const kinds: Array<{ label: string; mode?: QuantizeMode }> = [
    { label: 'fp32' }, { label: 'int8-weight', mode: 'weight' }, { label: 'int8-dynamic', mode: 'dynamic' }, { label: 'int8-static', mode: 'static' },
  ];
  const header = ['backend', 'H', 'batch', 'model', 'bytes', 'size x', 'us/call', 'ns/device', 'device-steps/s', 'speed vs fp32'];
  const rows: string[][] = [];
  for (const backend of backends) {
    for (const H of hiddens) {
      const fp32 = fp32Model(H);
      const files = kinds.map((k) => (k.mode ? quantizeModel(fp32, { mode: k.mode }) : fp32));
      const models = await Promise.all(files.map((b) => loadModel(b, { backend, threads: 1 })));
      for (const batch of batches) {
        const us = await timeModels(models, batch);
        kinds.forEach((k, i) => {
          const perSecond = (batch * 1e6) / us[i]!;
          rows.push([backend, String(H), String(batch), k.label, String(files[i]!.length), (fp32.length / files[i]!.length).toFixed(2), us[i]!.toFixed(1), ((us[i]! * 1000) / batch).toFixed(0), perSecond.toExponential(2), (us[0]! / us[i]!).toFixed(2)]);
        });
      }
      for (const m of models) await m.release();
    }
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]): string => `| ${r.map((c, i) => c.padStart(widths[i]!)).join(' | ')} |`;
  console.log(line(header));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of rows) console.log(line(r));
  console.log(`\nmedians of one-step calls (seq 1), 1 thread, models interleaved; ${quick ? 'quick run' : '3 s per model and cell'}; node ${process.version}`);
  console.log('int8-dynamic is not batch-invariant (one activation scale per call); int8-static is, bit for bit.');
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
