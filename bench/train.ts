/**
 * Training speed: seconds per epoch of the TypeScript trainer against PyTorch
 * on CPU, same windows, architecture, batch size, optimizer and clipping, in
 * the same run. Prints one table with medians over a few epochs.
 *
 *   node_modules/.bin/ts-node-transpile-only bench/train.ts [--windows 1024] [--epochs 3] [--batch 16,32,64] [--hidden 32]
 *
 * PyTorch comes from /usr/bin/python3 (Debian's python3-torch); without it
 * only the TypeScript column is filled.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, type OptionSpecs } from '../runtime/cli/args';
import { packageRoot } from '../runtime/model/default-model';
import { prepareSeries, type PreparedSeries } from '../models/toolchain/series-data';
import { syntheticCorpus } from '../models/toolchain/signals';
import { TRAIN_DEFAULTS, trainLstm } from '../models/toolchain/train';

const SPECS = {
  windows: { type: 'number', integer: true, min: 32, default: 1024, description: 'windows per epoch' },
  steps: { type: 'number', integer: true, min: 2, default: 64, description: 'steps per window' },
  epochs: { type: 'number', integer: true, min: 1, default: 3, description: 'epochs timed (median reported)' },
  batch: { type: 'list', default: '16,32,64', description: 'batch sizes' },
  hidden: { type: 'number', integer: true, min: 1, default: 32, description: 'hidden units' },
  layers: { type: 'number', integer: true, min: 1, default: 1, description: 'layers' },
  python: { type: 'string', default: '/usr/bin/python3', description: 'python with torch' },
} as const satisfies OptionSpecs;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

function torchEpochs(python: string, dir: string, hidden: number, layers: number, batch: number, epochs: number, threads: number): number[] | string {
  const r = spawnSync(python, [join(packageRoot(), 'bench', 'train_torch.py'), dir, String(hidden), String(layers), String(batch), String(epochs + 1), String(threads)], { encoding: 'utf8' });
  if (r.status !== 0) return (r.stderr || r.error?.message || 'failed').trim().split('\n').pop()!;
  // The first epoch warms up allocators and thread pools; it is dropped.
  return (JSON.parse(r.stdout) as { seconds: number[] }).seconds.slice(1);
}

function main(): void {
  const { values: o } = parseArgs(process.argv.slice(2), SPECS);
  const W = o.steps;
  // One series per window's worth of synthetic signal, normalized per device as the trainer does.
  const per = { mode: 'per-device' as const, window: 256, minStd: 1e-3 };
  const corpus = syntheticCorpus(11, Math.ceil(o.windows / 16), 16 * W + 1);
  const series: PreparedSeries[] = corpus.map((s) => prepareSeries({ name: s.name, columns: [s.values] }, per, [0]));
  // Exactly the windows the TypeScript trainer will use (stride = window, no validation split), written for PyTorch.
  const x = new Float32Array(o.windows * W);
  const y = new Float32Array(o.windows * W);
  let k = 0;
  for (const s of series) for (let a = 0; a + W <= s.rows && k < o.windows; a += W, k++) {
    x.set(s.x.subarray(a, a + W), k * W);
    y.set(s.y.subarray(a, a + W), k * W);
  }
  const dir = mkdtempSync(join(tmpdir(), 'edgelstm-bench-train-'));
  try {
    writeFileSync(join(dir, 'x.f32'), x);
    writeFileSync(join(dir, 'y.f32'), y);
    writeFileSync(join(dir, 'meta.json'), JSON.stringify({ windows: k, steps: W, features: 1, targets: 1 }));
    const rows: string[][] = [];
    for (const b of o.batch.map(Number)) {
      const opts = { ...TRAIN_DEFAULTS, hidden: o.hidden, layers: o.layers, window: W, stride: W, batchSize: b, epochs: o.epochs + 1, valFraction: 0, patience: 0 };
      const r = trainLstm(series, 1, 1, opts);
      const ts = median(r.history.slice(1).map((h) => h.seconds));
      const t1 = torchEpochs(o.python, dir, o.hidden, o.layers, b, o.epochs, 1);
      const t2 = torchEpochs(o.python, dir, o.hidden, o.layers, b, o.epochs, 2);
      const cell = (v: number[] | string): string => (typeof v === 'string' ? 'n/a' : median(v).toFixed(3));
      const ratio = (v: number[] | string): string => (typeof v === 'string' ? 'n/a' : `${(ts / median(v)).toFixed(2)}x`);
      rows.push([`${o.hidden}`, `${o.layers}`, `${W}`, `${b}`, `${k}`, ts.toFixed(3), cell(t1), ratio(t1), cell(t2), ratio(t2)]);
      if (typeof t1 === 'string') process.stderr.write(`pytorch: ${t1}\n`);
    }
    const head = ['H', 'L', 'steps', 'batch', 'windows', 'TS s/epoch', 'torch 1 thread', 'TS/torch(1)', 'torch 2 threads', 'TS/torch(2)'];
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const line = (r: string[]): string => r.map((c, i) => c.padStart(widths[i]!)).join('  ');
    process.stdout.write(`${line(head)}\n${rows.map(line).join('\n')}\n`);
    process.stdout.write(`medians over ${o.epochs} epochs (first epoch dropped); TS: edgelstm trainer, one thread, float64; torch: nn.LSTM + Linear, float32, Adam + clip_grad_norm_\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main();
