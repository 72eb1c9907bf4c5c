// Exported models streamed through the engine and `edgelstm replay`: three devices interleaved,
// batched together, against PyTorch's own numbers for each device's whole sequence.
import t from 'tap';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Engine } from '../../runtime/engine/engine';
import type { Result } from '../../runtime/engine/sample';
import { loadModel } from '../../runtime/model/load-model';
import { main as replayMain } from '../../runtime/replay/replay-command';
import { captureOutput } from '../helpers/capture';
import { tempDir } from '../helpers/models';

const dir = join(__dirname, '..', 'fixtures', 'exports');

interface Stream {
  seq: number;
  batch: number;
  x: number[];
  y: number[];
}
interface Manifest {
  'edgelstm.normalization': { mean: number[]; std: number[] };
}

function fixture(name: string): { stream: Stream; mean: number[]; std: number[]; F: number; T: number } {
  const e = JSON.parse(readFileSync(join(dir, `${name}.expected.json`), 'utf8')) as { stream: Stream; features: number; targets: number };
  const m = JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')) as Manifest;
  return { stream: e.stream, ...m['edgelstm.normalization'], F: e.features, T: e.targets };
}

/** Device b's reading at step s, in original units (the fixture's x is normalized). */
function reading(f: ReturnType<typeof fixture>, s: number, b: number): number[] {
  const { stream, mean, std, F } = f;
  return Array.from({ length: F }, (_, k) => mean[k]! + stream.x[(s * stream.batch + b) * F + k]! * std[k]!);
}

/** Worst normalized distance between the engine's forecasts and the model's own y. */
function worst(f: ReturnType<typeof fixture>, results: Result[][]): number {
  let w = 0;
  const { stream, mean, std, T } = f;
  for (let s = 0; s < stream.seq; s++) {
    for (let b = 0; b < stream.batch; b++) {
      for (let k = 0; k < T; k++) {
        const want = stream.y[(s * stream.batch + b) * T + k]!;
        w = Math.max(w, Math.abs((results[b]![s]!.forecast[k]! - mean[k]!) / std[k]! - want));
      }
    }
  }
  return w;
}

const STREAMED = ['lstm-batch-first', 'gru', 'gru-batch-first-opset11', 'gru-lbr0', 'lstm-batch-first-opset11', 'lstm3-h48-opset11', 'lstm-peephole-input-forget', 'lstm-activations'];

for (const name of STREAMED) {
  t.test(`${name}: three devices in one batch per step match the model run over each sequence, and each alone`, async (t) => {
    const f = fixture(name);
    for (const backend of ['native', 'wasm', 'reference'] as const) {
      const m = await loadModel(join(dir, `${name}.onnx`), { backend, sidecar: join(dir, `${name}.json`) });
      const together = new Engine(m, { maxDelayMs: 20, warmup: 0 });
      const batches: number[] = [];
      together.onBatch = (b) => batches.push(b.size);
      const results: Result[][] = [[], [], []];
      for (let s = 0; s < f.stream.seq; s++) {
        const step = await Promise.all([0, 1, 2].map((b) => together.push({ device: `d${b}`, ts: s, values: reading(f, s, b) })));
        step.forEach((r, b) => results[b]!.push(r));
      }
      t.ok(batches.every((n) => n === 3), `${backend}: every step was one batch of the three devices`);
      const d = worst(f, results);
      t.ok(d < 1e-5, `${backend}: worst normalized difference ${d.toExponential(2)} < 1e-5`);
      // Batch invariance: device 1 alone gets bit-identical forecasts.
      const alone = new Engine(m, { maxDelayMs: 0, warmup: 0 });
      for (let s = 0; s < f.stream.seq; s++) {
        const r = await alone.push({ device: 'd1', ts: s, values: reading(f, s, 1) });
        if (backend !== 'reference') t.same(r.forecast, results[1]![s]!.forecast, `${backend} step ${s}: alone = in a batch of 3`);
      }
      await together.close();
      await alone.close();
      await m.release();
    }
  });
}

t.test('replay of a batch_first export: interleaved devices batched together, the numbers PyTorch gives', async (t) => {
  const name = 'lstm-batch-first';
  const f = fixture(name);
  const work = tempDir();
  const rows = ['timestamp,device,f0,f1'];
  for (let s = 0; s < f.stream.seq; s++) for (let b = 0; b < 3; b++) rows.push(`${1700000000000 + s * 1000},d${b},${reading(f, s, b).join(',')}`);
  const input = join(work, 'in.csv');
  writeFileSync(input, `${rows.join('\n')}\n`);
  const out = join(work, 'out.jsonl');
  // The sidecar manifest beside the model, as a user keeps it.
  copyFileSync(join(dir, `${name}.onnx`), join(work, 'model.onnx'));
  copyFileSync(join(dir, `${name}.json`), join(work, 'model.json'));
  const args = ['--model', join(work, 'model.onnx'), '--input', input, '--output', out];
  const { value: code, stderr } = await captureOutput(() => replayMain(args));
  t.equal(code, 0, stderr);
  const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Result);
  const results: Result[][] = [0, 1, 2].map((b) => lines.filter((r) => r.device === `d${b}`));
  const d = worst(f, results);
  t.ok(d < 1e-5, `worst normalized difference ${d.toExponential(2)}`);
});
