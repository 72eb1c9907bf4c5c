/**
 * `bench:quantize --profile`: where the time of one step goes, fp32 against
 * int8-static, from ONNX Runtime's own profiler (`enableProfiling`), native,
 * one thread, the engine's session options, the two sessions interleaved.
 * Each kernel's time is the minimum (`--stat median` for medians) over the
 * calls after warm-up: on a shared machine a long kernel is more often
 * preempted than a short one, and the minimum is the time the work takes
 * undisturbed. The int8-static step is split into its integer products (of
 * the state, K = H, and of the input, K = F) and its float element-wise
 * work (the gate Adds, Sigmoid, Tanh, the cell update, QuantizeLinear).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InferenceSession } from 'onnxruntime-common';

interface ProfileEvent {
  cat: string;
  name: string;
  dur: number;
  args?: { op_name?: string; input_type_shape?: Array<Record<string, number[]>> };
}

/** The group a kernel's time is counted in. */
function group(op: string, inputShapes: number[][], H: number): string {
  if (op === 'LSTM') return 'LSTM kernel (products and gates fused)';
  if (op === 'MatMulIntegerToFloat') return inputShapes[0]?.at(-1) === H ? 'int8 products of h (K = H)' : 'int8 products of x (K = F)';
  if (['Add', 'Mul', 'Sigmoid', 'Tanh', 'QuantizeLinear'].includes(op)) return 'float element-wise + QuantizeLinear';
  return 'other (head, reshapes)';
}

function stat(a: number[], kind: 'min' | 'median'): number {
  const s = [...a].sort((x, y) => x - y);
  return kind === 'min' ? s[0]! : s[Math.floor(s.length / 2)]!;
}

/** Profiles fp32 and int8-static at one H and batch; returns the lines to print. */
export async function profileStep(files: { fp32: Uint8Array; int8Static: Uint8Array }, H: number, batch: number, calls: number, kind: 'min' | 'median'): Promise<string[]> {
  const ort = (await import('onnxruntime-node')) as unknown as { InferenceSession: typeof InferenceSession; Tensor: new (type: 'float32', data: Float32Array, dims: number[]) => unknown };
  const dir = mkdtempSync(join(tmpdir(), 'edgelstm-profile-'));
  const labels = ['fp32', 'int8-static'] as const;
  try {
    const sessions: InferenceSession[] = [];
    for (const [i, bytes] of [files.fp32, files.int8Static].entries()) {
      sessions.push(await ort.InferenceSession.create(bytes, {
        executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all',
        enableProfiling: true, profileFilePrefix: join(dir, labels[i]!), logSeverityLevel: 3,
      }));
    }
    const feeds = {
      x: new ort.Tensor('float32', Float32Array.from({ length: batch }, (_, i) => Math.sin(i)), [1, batch, 1]),
      h0: new ort.Tensor('float32', Float32Array.from({ length: batch * H }, (_, i) => 0.5 * Math.cos(i)), [1, batch, H]),
      c0: new ort.Tensor('float32', new Float32Array(batch * H), [1, batch, H]),
    } as unknown as InferenceSession.FeedsType;
    for (let i = 0; i < calls; i++) for (const s of sessions) await s.run(feeds);
    const lines: string[] = [];
    const totals: number[] = [];
    let intProducts = 0;
    for (const [i, s] of sessions.entries()) {
      s.endProfiling();
      await s.release();
      const file = readdirSync(dir).find((f) => f.startsWith(labels[i]!));
      if (!file) throw new Error(`no profile file for ${labels[i]} in ${dir}`);
      const events = JSON.parse(readFileSync(join(dir, file), 'utf8')) as ProfileEvent[];
      const warm = Math.min(5, Math.floor(calls / 4));
      const byNode = new Map<string, { op: string; shapes: number[][]; durs: number[] }>();
      for (const e of events) {
        if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time') || e.args?.op_name === 'Scan') continue;
        const n = byNode.get(e.name) ?? { op: e.args?.op_name ?? '?', shapes: (e.args?.input_type_shape ?? []).map((o) => Object.values(o)[0] ?? []), durs: [] };
        n.durs.push(e.dur);
        byNode.set(e.name, n);
      }
      const groups = new Map<string, { us: number; nodes: number }>();
      for (const n of byNode.values()) {
        const g = group(n.op, n.shapes, H);
        const cur = groups.get(g) ?? { us: 0, nodes: 0 };
        groups.set(g, { us: cur.us + stat(n.durs.slice(warm), kind), nodes: cur.nodes + 1 });
      }
      const total = [...groups.values()].reduce((a, g) => a + g.us, 0);
      totals.push(total);
      for (const [g, v] of groups) if (g.startsWith('int8 products')) intProducts += v.us;
      lines.push(`H=${H} batch=${batch} ${labels[i]}: ${total} us per step (sum of each kernel's ${kind} over ${calls - warm} calls)`);
      for (const [g, v] of [...groups].sort((a, b) => b[1].us - a[1].us)) lines.push(`    ${g.padEnd(40)} ${String(v.us).padStart(7)} us ${((100 * v.us) / total).toFixed(0).padStart(3)}%  (${v.nodes} kernels)`);
    }
    // No speed ratio here: fp32 is one long kernel, which a loaded machine preempts far more often than
    // int8-static's short ones, so even its minimum inflates; the speed is the bench table's (interleaved medians).
    lines.push(`    int8 products ${(100 * intProducts / totals[1]!).toFixed(0)}% of the int8-static step; the rest is work the fp32 LSTM kernel fuses into its gate loop`);
    return lines;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
