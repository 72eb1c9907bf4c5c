/**
 * `npm run check:arm64` / `npm run check:armv7`: runs models under qemu
 * user-mode emulation of the boards' CPUs and compares every output with the
 * same run on this x86-64 host.
 *
 *   node dist/deploy/arm/check-arm.js arm64|armv7 [--required] [--keep]
 *
 * arm64: onnxruntime-node's bundled linux/arm64 binary under Node's arm64
 * build (Raspberry Pi 4: cortex-a72, Pi 5: cortex-a76). armv7: the wasm
 * backend (onnxruntime-web) under Node's armv7l build, as on 32-bit
 * Raspberry Pi OS, which has no onnxruntime-node binary.
 *
 * Models: the shipped one, its int8 forms, and a GRU of the same shape (float32
 * and int8). Two runs per model and CPU, in one process per CPU (run-suite.ts): the probe (raw y, hn, cn of a
 * batch of 8 over two calls) and `edgelstm replay` of a CSV of three devices
 * with an injected spike (forecasts, scores, likelihoods, anomaly flags).
 * A number agrees when |a - b| <= 1e-5 * max(1, |a|); anything else (a flag,
 * a count, a crash such as SIGILL from an instruction the CPU lacks) fails.
 *
 * Skips (exit 0, `skipped: reason`) when the host cannot run it: not Linux,
 * not x86-64, not Debian, not root. With --required (or
 * EDGELSTM_ARM_REQUIRED=1, as CI sets it) a skip is a failure.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { randomWeights } from '../../runtime/contract/weights';
import { packageRoot } from '../../runtime/model/default-model';
import { encodeMetadata, type ModelMetadata } from '../../runtime/model/metadata';
import { buildLstmModel } from '../../runtime/onnx/lstm-graph';
import { compareOutputs, type Comparison } from './compare-results';
import { cpuinfoFor, ensureNode, ensureSystemPackages, offeredCpus, qemuVersion, skipReason, TARGETS, type ArmTarget } from './emulation';

export const TOLERANCE = 1e-5;

/** The bytes of a one-layer GRU, H=32, seeded weights, with the given model's metadata (no c0/cn). */
function gruLike(meta: ModelMetadata): Uint8Array {
  const w = randomWeights(meta.features.length, 32, meta.targets.length, 1, 12, false, 'gru');
  const lbr = { ...w, layers: w.layers.map((l) => ({ ...l, attributes: { linearBeforeReset: true } })) };
  const { x, h0, y, hn } = meta.io;
  return buildLstmModel(lbr, { names: { x, h0, y, hn }, metadata: encodeMetadata({ ...meta, name: `${meta.name}-gru`, io: { x, h0, y, hn } }) });
}

interface RunResult {
  ok: boolean;
  stdout: string;
  stderr: string;
  ms: number;
  /** Why the process failed: exit code or signal. */
  failure?: string;
}

function exec(cmd: string, args: string[]): Promise<RunResult> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    execFile(cmd, args, { maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' }, (err, stdout, stderr) => {
      const ms = performance.now() - t0;
      if (!err) return resolve({ ok: true, stdout, stderr, ms });
      const e = err as { code?: number | string; signal?: string };
      resolve({ ok: false, stdout, stderr, ms, failure: e.signal ? `killed by ${e.signal}` : `exit ${String(e.code)}` });
    });
  });
}

/** A CSV of three devices for the model's features, one reading a minute, a spike on device b. */
function writeCsv(file: string, features: readonly string[]): void {
  const rows = [`timestamp,device,${features.join(',')}`];
  for (let i = 0; i < 240; i++) {
    for (const [d, dev] of ['a', 'b', 'c'].entries()) {
      const vals = features.map((_, f) => {
        let v = 20 + 5 * Math.sin((2 * Math.PI * i) / (24 + 6 * d) + f) + 0.4 * Math.sin(i * 1.3 + d * 7 + f * 3);
        if (dev === 'b' && i >= 180 && i < 184) v += 25;
        return v.toFixed(4);
      });
      rows.push(`${1_700_000_000_000 + i * 60_000},${dev},${vals.join(',')}`);
    }
  }
  writeFileSync(file, `${rows.join('\n')}\n`);
}

interface Row {
  model: string;
  run: 'probe' | 'replay';
  where: string;
  hostMs: number;
  ms: number;
  cmp?: Comparison;
  failure?: string;
}

async function pool<T>(jobs: (() => Promise<T>)[], width: number): Promise<T[]> {
  const out: T[] = new Array(jobs.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(width, jobs.length) }, async () => {
    while (next < jobs.length) {
      const i = next++;
      out[i] = await jobs[i]!();
    }
  }));
  return out;
}

const fmtS = (ms: number): string => (ms < 1000 ? `${ms.toFixed(0)} ms` : `${(ms / 1000).toFixed(1)} s`);

export async function checkArm(target: ArmTarget, opts: { required: boolean; keep: boolean }): Promise<number> {
  const say = (s: string): void => void process.stdout.write(`${s}\n`);
  const reason = skipReason();
  if (reason) {
    say(`check:${target} skipped: ${reason}`);
    return opts.required ? 1 : 0;
  }
  const spec = TARGETS[target];
  const tSetup = performance.now();
  ensureSystemPackages(spec, say);
  const node = ensureNode(spec, say);
  const setupMs = performance.now() - tSetup;
  const cpus = offeredCpus(spec);
  if (cpus.length === 0) throw new Error(`${spec.qemu} offers none of ${spec.cpus.map((c) => c.cpu).join(', ')}`);

  const root = packageRoot();
  const cli = join(root, 'dist', 'runtime', 'cli', 'main.js');
  const ort = (JSON.parse(readFileSync(join(root, 'node_modules', `onnxruntime-${spec.backend === 'native' ? 'node' : 'web'}`, 'package.json'), 'utf8')) as { version: string }).version;
  const tmp = mkdtempSync(join(tmpdir(), `edgelstm-check-${target}-`));
  const tAll = performance.now();
  try {
    // The models: the shipped float32 one, and int8 versions of it made here.
    const generic = join(root, 'models', 'generic', 'generic.onnx');
    const models = [generic];
    // int8-dynamic (DynamicQuantizeLSTM) has no exact x86-64 reference on a host without VNNI: ONNX Runtime's
    // u8s8 kernels there sum pairs of products in saturating int16 (vpmaddubsw), so x86-64 itself is off, not
    // the board. Measured on an AVX2-only host: up to 3.7e-3 off in y against both arm64 CPUs, which agree with
    // each other. On such a host the dynamic form is left out and the reason printed; with VNNI it is compared.
    const vnni = hostHasInt8DotProduct();
    if (!vnni) say('int8-dynamic not compared: this x86-64 host has no VNNI (avx512_vnni/avx_vnni/amx_int8), so its own u8s8 kernels saturate');
    for (const mode of vnni ? ['weight', 'dynamic', 'static'] : ['weight', 'static']) {
      const out = join(tmp, `generic-int8-${mode}.onnx`);
      const q = await exec(process.execPath, [cli, 'quantize', generic, out, '--mode', mode]);
      if (!q.ok) throw new Error(`quantize --mode ${mode} failed: ${q.stderr}`);
      models.push(out);
    }
    const { loadModel } = await import('../../runtime/model/load-model');
    const m = await loadModel(generic, { backend: 'reference' });
    // A GRU of the generic model's shape and metadata (seeded weights), float32 and int8: the GRU op
    // and a state with no cell are checked on the boards' CPUs too.
    const gru = join(tmp, 'generic-gru.onnx');
    writeFileSync(gru, gruLike(m.metadata));
    const gruInt8 = join(tmp, 'generic-gru-int8-weight.onnx');
    const qg = await exec(process.execPath, [cli, 'quantize', gru, gruInt8]);
    if (!qg.ok) throw new Error(`quantize of the GRU failed: ${qg.stderr}`);
    models.push(gru, gruInt8);
    const csv = join(tmp, 'readings.csv');
    writeCsv(csv, m.metadata.features);
    await m.release();

    const cpuinfo = new Map(cpus.map((c) => {
      const f = join(tmp, `cpuinfo-${c.cpu}`);
      writeFileSync(f, cpuinfoFor(c.cpu));
      return [c.cpu, f];
    }));
    const suite = join(root, 'dist', 'deploy', 'arm', 'run-suite.js');
    const suiteArgs = (backend: string, out: string): string[] => {
      mkdirSync(out);
      return [suite, '--backend', backend, '--csv', csv, '--out', out, ...models];
    };
    const emulated = (cpu: string, args: string[]): Promise<RunResult> =>
      // A private mount namespace, so the board's cpuinfo covers /proc/cpuinfo for this process tree alone.
      exec('unshare', ['-m', '--propagation', 'private', 'sh', '-c', 'mount --bind "$0" /proc/cpuinfo && exec "$@"', cpuinfo.get(cpu)!, spec.qemu, '-cpu', cpu, node.path, ...args]);

    // One process per platform; the x86-64 reference is onnxruntime-node on this host.
    const platforms: { where: string; start: (out: string) => Promise<RunResult> }[] = [
      { where: 'x86-64 native', start: (out) => exec(process.execPath, suiteArgs('native', out)) },
      // Baseline for 32-bit arm: the same wasm build on x86-64.
      ...(spec.backend === 'wasm' ? [{ where: 'x86-64 wasm', start: (out: string) => exec(process.execPath, suiteArgs('wasm', out)) }] : []),
      ...cpus.map(({ cpu }) => ({ where: `${cpu} ${spec.backend}`, start: (out: string) => emulated(cpu, suiteArgs(spec.backend, out)) })),
    ];
    const [host, ...others] = platforms.map((p, i) => ({ ...p, out: join(tmp, `run-${i}`) }));
    // int8-dynamic on wasm: onnxruntime-web's kernels for DynamicQuantizeLSTM are not those of onnxruntime-node
    // (generic 1.1.0: up to 2.2e-2 off in y on x86-64 itself, while the arm CPUs' wasm runs equal x86-64's bit for
    // bit). The board is then checked against the same wasm build on x86-64, and that row itself is left out.
    const wasmHost = spec.backend === 'wasm' ? others.find((p) => p.where === 'x86-64 wasm') : undefined;
    const dynamicOnWasm = (model: string): boolean => wasmHost !== undefined && basename(model) === 'generic-int8-dynamic.onnx';
    if (wasmHost !== undefined && models.some(dynamicOnWasm)) say('int8-dynamic on wasm compared with x86-64 wasm, not x86-64 native: onnxruntime-web\'s DynamicQuantizeLSTM kernels are not onnxruntime-node\'s');
    const hostRun = await host!.start(host!.out);
    if (!hostRun.ok) throw new Error(`host run failed (${hostRun.failure}): ${hostRun.stderr}`);
    // Two at a time: the CI machine has two cores, and qemu keeps one busy.
    const results = await pool(others.map((p) => async () => ({ p, r: await p.start(p.out) })), 2);

    const timesOf = (r: RunResult): Map<string, number> =>
      new Map(r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => {
        const o = JSON.parse(l) as { model: string; run: string; ms: number };
        return [`${o.model}|${o.run}`, o.ms];
      }));
    const hostTimes = timesOf(hostRun);
    const rows: Row[] = [];
    const processes: string[] = [`x86-64 native ${fmtS(hostRun.ms)}`];
    for (const { p, r } of results) {
      processes.push(`${p.where} ${fmtS(r.ms)}`);
      const times = timesOf(r);
      for (const model of models) {
        if (dynamicOnWasm(model) && p === wasmHost) continue;
        const ref = dynamicOnWasm(model) ? wasmHost!.out : host!.out;
        for (const run of ['probe', 'replay'] as const) {
          const file = `${basename(model)}.${run}.${run === 'probe' ? 'json' : 'jsonl'}`;
          const key = `${basename(model)}|${run}`;
          const row: Row = { model: basename(model), run, where: p.where, hostMs: hostTimes.get(key)!, ms: times.get(key) ?? NaN };
          if (!times.has(key)) row.failure = r.ok ? 'no result' : `${r.failure}: ${r.stderr.trim().split('\n').slice(-2).join(' | ')}`;
          else row.cmp = compareOutputs(readFileSync(join(ref, file), 'utf8'), readFileSync(join(p.out, file), 'utf8'), TOLERANCE);
          rows.push(row);
        }
      }
    }

    say('');
    say(`check:${target}: ${spec.qemu} ${qemuVersion(spec)}, Node ${node.version} (${spec.nodePackage}), onnxruntime-${spec.backend === 'native' ? 'node' : 'web'} ${ort} ${spec.backend}; reference: x86-64 native, Node ${process.version}`);
    say(`CPUs: ${cpus.map((c) => `${c.cpu} (${c.board})`).join(', ')}; tolerance |a-b| <= ${TOLERANCE} * max(1, |a|)`);
    say('');
    const header = ['model', 'run', 'platform', 'values', 'max |diff|', 'at', 'x86-64 native', 'time', 'ratio', 'result'];
    const table = rows.map((r) => [
      r.model, r.run, r.where,
      r.cmp ? String(r.cmp.values) : '-',
      r.cmp ? r.cmp.maxAbsDiff.toExponential(2) : '-',
      r.cmp ? r.cmp.maxAt.trim() : '-',
      fmtS(r.hostMs), Number.isNaN(r.ms) ? '-' : fmtS(r.ms), Number.isNaN(r.ms) ? '-' : `${(r.ms / r.hostMs).toFixed(1)}x`,
      r.failure ? 'FAIL' : r.cmp!.mismatches.length > 0 ? 'MISMATCH' : 'ok',
    ]);
    const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
    const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
    say(line(header));
    say(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
    for (const row of table) say(line(row));
    say('');
    say('time and ratio are qemu-user emulation on this x86-64 host: they measure the emulator translating arm code, not a board, and say');
    say('nothing about float32 or int8 speed on a Raspberry Pi or Jetson (emulated dot-product instructions are not faster). This check is for');
    say('correctness; measure speed on the board itself: npm run bench:quantize.');
    say('');
    let bad = 0;
    for (const r of rows) {
      if (r.failure) say(`FAIL ${r.model} ${r.run} on ${r.where}: ${r.failure}`);
      else for (const m of r.cmp!.mismatches) say(`MISMATCH ${r.model} ${r.run} on ${r.where}: ${m}`);
      if (r.failure || r.cmp!.mismatches.length > 0) bad++;
    }
    say(`processes (wall, startup included): ${processes.join(', ')}`);
    say(`check:${target}: ${rows.length - bad} of ${rows.length} runs agree with x86-64; setup ${fmtS(setupMs)}, runs ${fmtS(performance.now() - tAll)}`);
    return bad === 0 ? 0 : 1;
  } finally {
    if (opts.keep) say(`kept ${tmp}`);
    else rmSync(tmp, { recursive: true, force: true });
  }
}

if (require.main === module) {
  const argv = process.argv.slice(2);
  const target = argv.find((a) => !a.startsWith('--'));
  if (target !== 'arm64' && target !== 'armv7') {
    process.stderr.write('usage: check-arm arm64|armv7 [--required] [--keep]\n');
    process.exit(2);
  }
  checkArm(target, { required: argv.includes('--required') || process.env['EDGELSTM_ARM_REQUIRED'] === '1', keep: argv.includes('--keep') }).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`check:${target}: ${(e as Error).stack ?? String(e)}\n`);
      process.exitCode = 1;
    },
  );
}

/** Whether this x86-64 host has int8 dot-product instructions (ONNX Runtime's u8s8 GEMM is exact with them). */
function hostHasInt8DotProduct(): boolean {
  try {
    return /\b(avx512_vnni|avx_vnni|amx_int8)\b/.test(readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {
    return false;
  }
}
