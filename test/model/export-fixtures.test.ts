import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadModel } from '../../runtime/model/load-model';
import { BACKEND_KINDS } from '../../runtime/backend/backend';
import { main as inspectMain } from '../../models/import/inspect-command';
import type { ModelReport } from '../../models/import/inspect-model';
import { captureOutput } from '../helpers/capture';
import { maxAbsDiff } from '../helpers/models';

/**
 * The models users export (made by models/fixtures/make_export_fixtures.py):
 * each either runs within 1e-5 of PyTorch's (or the ONNX definition's) own
 * numbers on every backend, or is refused on every backend with its reason.
 */
const dir = join(__dirname, '..', 'fixtures', 'exports');

interface Case {
  case: string;
  onnx?: string;
  runs: boolean;
  refuse: string[] | null;
  note: string;
}
interface Run {
  x: number[];
  h0: number[];
  c0?: number[];
  y: number[];
  hn: number[];
  cn?: number[];
}
interface Expected {
  cell: 'lstm' | 'gru';
  layout: 'seq-first' | 'batch-first';
  seq: number;
  batch: number;
  features: number;
  hidden: number;
  layers: number;
  targets: number;
  run: Run;
}

const cases = JSON.parse(readFileSync(join(dir, 'cases.json'), 'utf8')) as Case[];
const onnxOf = (c: Case): string => join(dir, `${c.onnx ?? c.case}.onnx`);
const sidecarOf = (c: Case): string => join(dir, `${c.case}.json`);

t.test('the fixtures cover every row: runs and refusals', async (t) => {
  t.ok(cases.filter((c) => c.runs).length >= 10);
  t.ok(cases.filter((c) => !c.runs).length >= 7);
});

for (const c of cases) {
  if (c.runs) {
    const e = JSON.parse(readFileSync(join(dir, `${c.case}.expected.json`), 'utf8')) as Expected;
    for (const backend of BACKEND_KINDS) {
      t.test(`${c.case} (${c.note}) runs on ${backend} within 1e-5`, async (t) => {
        const m = await loadModel(onnxOf(c), { backend, sidecar: sidecarOf(c) });
        t.same(m.dims, { F: e.features, H: e.hidden, L: e.layers, T: e.targets });
        t.equal(m.cell, e.cell);
        t.equal(m.layout, e.layout);
        const zeros = new Float32Array(0);
        const out = await m.backend.run(Float32Array.from(e.run.x), Float32Array.from(e.run.h0), e.run.c0 ? Float32Array.from(e.run.c0) : zeros, e.seq, e.batch);
        for (const k of ['y', 'hn', 'cn'] as const) {
          const want = e.run[k];
          if (want === undefined) {
            t.equal(out[k].length, 0, `${k}: a GRU has no cell state`);
            continue;
          }
          const d = maxAbsDiff(out[k], want);
          t.ok(d < 1e-5, `${k}: max |diff| ${d.toExponential(2)} < 1e-5`);
        }
        await m.release();
      });
    }
  } else {
    t.test(`${c.case} (${c.note}) is refused on every backend, naming the reason`, async (t) => {
      for (const backend of BACKEND_KINDS) {
        const err = await loadModel(onnxOf(c), { backend, sidecar: sidecarOf(c) }).then(() => undefined, (x: unknown) => x as Error);
        t.ok(err, `${backend} refuses it`);
        t.match(err, { code: 'E_MODEL' });
        for (const word of c.refuse ?? []) t.match(err?.message ?? '', word, `${backend}: the message says "${word}"`);
      }
    });
  }
}

t.test('inspect says exactly what the loader says, and exits 1 when the loader refuses', async (t) => {
  for (const c of cases) {
    const { value: code, stdout, stderr } = await captureOutput(() => inspectMain([onnxOf(c), '--manifest', sidecarOf(c), '--json']), { stdout: true });
    const report = JSON.parse(stdout) as ModelReport;
    const loaderSays = await loadModel(onnxOf(c), { sidecar: sidecarOf(c), name: onnxOf(c) }).then(
      async (m) => {
        await m.release();
        return null;
      },
      (e: unknown) => (e as Error).message,
    );
    t.equal(report.contractError, loaderSays, `${c.case}: the loader's own message`);
    t.equal(code, c.runs ? 0 : 1, `${c.case}: exit code`);
    if (!c.runs) t.match(stderr, loaderSays ?? '', `${c.case}: on stderr too`);
    else t.equal(report.loaded?.cell, c.case.startsWith('gru') ? 'gru' : 'lstm');
  }
});
