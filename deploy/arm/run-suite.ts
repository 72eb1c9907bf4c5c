/**
 * What the emulation checks run on each platform, in one process (so that
 * qemu translates Node and the wasm build once, not once per model): for
 * each model, the probe (raw y, hn, cn of a fixed batch of 8 over two
 * calls, the second starting from the first one's state) into
 * OUT/<model>.probe.json, and `edgelstm replay` of the CSV into
 * OUT/<model>.replay.jsonl. Prints one JSON line per run with its wall time.
 *
 *   node dist/deploy/arm/run-suite.js --backend native|wasm --csv CSV --out DIR MODEL...
 */
import { writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { main as replayMain } from '../../runtime/replay/replay-command';
import { loadModel } from '../../runtime/model/load-model';
import type { BackendKind } from '../../runtime/backend/backend';

const SEQ = 32;
const BATCH = 8;

/** A deterministic input in the range a normalized sensor takes (about ±3), different per device and step. */
function probeInput(seq: number, batch: number, features: number, call: number): Float32Array {
  const x = new Float32Array(seq * batch * features);
  for (let s = 0; s < seq; s++) {
    for (let b = 0; b < batch; b++) {
      for (let f = 0; f < features; f++) {
        const t = call * seq + s;
        x[(s * batch + b) * features + f] = 2.5 * Math.sin(t / (3 + b) + f) + 0.3 * Math.cos(t * 1.7 + b * f);
      }
    }
  }
  return x;
}

export async function runProbe(file: string, backend: BackendKind): Promise<Record<string, number[]>> {
  const model = await loadModel(file, { backend });
  const { F, H, L } = model.dims;
  let h = new Float32Array(L * BATCH * H);
  let c = new Float32Array(L * BATCH * H);
  const out: Record<string, number[]> = {};
  for (let call = 0; call < 2; call++) {
    const r = await model.backend.run(probeInput(SEQ, BATCH, F, call), h, c, SEQ, BATCH);
    out[`y${call}`] = Array.from(r.y);
    if (r.ylogvar) out[`ylogvar${call}`] = Array.from(r.ylogvar);
    // The backend owns its output arrays until the next run: copy the state.
    h = Float32Array.from(r.hn);
    c = Float32Array.from(r.cn);
  }
  out['hn'] = Array.from(h);
  out['cn'] = Array.from(c);
  await model.release();
  return out;
}

export async function runSuite(argv: string[]): Promise<number> {
  const opt = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const backend = (opt('backend') ?? 'native') as BackendKind;
  const csv = opt('csv');
  const out = opt('out');
  const models = argv.filter((a, i) => !a.startsWith('--') && !argv[i - 1]?.startsWith('--'));
  if (!csv || !out || models.length === 0) {
    process.stderr.write('usage: run-suite --backend native|wasm --csv CSV --out DIR MODEL...\n');
    return 2;
  }
  const say = (o: object): void => void process.stdout.write(`${JSON.stringify({ arch: process.arch, node: process.version, backend, ...o })}\n`);
  for (const model of models) {
    let t0 = performance.now();
    writeFileSync(join(out, `${basename(model)}.probe.json`), `${JSON.stringify(await runProbe(model, backend))}\n`);
    say({ model: basename(model), run: 'probe', ms: performance.now() - t0 });
    t0 = performance.now();
    const code = await replayMain(['--model', model, '--backend', backend, '--input', csv, '--output', join(out, `${basename(model)}.replay.jsonl`)]);
    if (code !== 0) return code;
    say({ model: basename(model), run: 'replay', ms: performance.now() - t0 });
  }
  return 0;
}

if (require.main === module) {
  runSuite(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`run-suite: ${(e as Error).stack ?? String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
