import { ModelError } from '../errors';
import { BACKEND_KINDS, type BackendKind, type LstmBackend } from './backend';
import { createBackend } from './create-backend';
import { RuntimeUnavailable } from './ort-modules';

/** What a caller asks for: one backend by name, or 'auto' (native where it loads and agrees, wasm otherwise). */
export type BackendChoice = BackendKind | 'auto';

export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', ...BACKEND_KINDS];

/** Overrides 'auto' for a whole process (a Docker image, a Node-RED install) without touching its configuration. */
export const BACKEND_ENV = 'EDGELSTM_BACKEND';

/** The most native outputs may differ from the oracle's, relative to max(1, |oracle value|), for native to be used. */
export const AGREEMENT_TOLERANCE = 1e-3;

export interface BackendReport {
  requested: BackendChoice;
  kind: BackendKind;
  /** Why this one: named by the caller or the environment, or what 'auto' found. */
  reason: string;
}

export interface ChosenBackend extends BackendReport {
  backend: LstmBackend;
}

type Inputs = Parameters<typeof createBackend> extends [BackendKind, ...infer R] ? R : never;

/**
 * Creates the backend `requested` names. 'auto' tries onnxruntime-node: when it is installed, its
 * binary loads and a probe batch gives the outputs of the reference LSTM (of wasm, for a graph the
 * reference cannot read), the backend is native; otherwise wasm, and `reason` says what was
 * missing. EDGELSTM_BACKEND, when set, replaces 'auto'.
 */
export async function chooseBackend(requested: BackendChoice, ...inputs: Inputs): Promise<ChosenBackend> {
  if (requested === 'auto') {
    const env = process.env[BACKEND_ENV]?.trim();
    if (env && env !== 'auto') {
      if (!(BACKEND_KINDS as readonly string[]).includes(env)) {
        throw new ModelError('unknown backend', { field: BACKEND_ENV, expected: BACKEND_CHOICES.join(' | '), found: env });
      }
      const kind = env as BackendKind;
      return { backend: await named(kind, inputs, BACKEND_ENV), requested, kind, reason: `${BACKEND_ENV}=${kind}` };
    }
    return auto(inputs);
  }
  return { backend: await named(requested, inputs, 'backend'), requested, kind: requested, reason: 'configured' };
}

async function named(kind: BackendKind, inputs: Inputs, field: string): Promise<LstmBackend> {
  try {
    return await createBackend(kind, ...inputs);
  } catch (e) {
    if (e instanceof RuntimeUnavailable) throw new ModelError('backend is not available here', { field, expected: kind, found: e.reason });
    throw e;
  }
}

async function auto(inputs: Inputs): Promise<ChosenBackend> {
  const wasm = async (reason: string): Promise<ChosenBackend> => ({ backend: await createBackend('wasm', ...inputs), requested: 'auto', kind: 'wasm', reason });
  let native: LstmBackend;
  try {
    native = await createBackend('native', ...inputs);
  } catch (e) {
    return wasm(e instanceof RuntimeUnavailable ? e.reason : `onnxruntime-node refused the model: ${firstLine(e)}`);
  }
  // The oracle: the TypeScript reference LSTM (no wasm compile at start-up), or wasm for a graph it cannot read.
  let oracle: LstmBackend;
  try {
    oracle = await createBackend('reference', ...inputs);
  } catch {
    oracle = await createBackend('wasm', ...inputs);
  }
  const against = oracle.kind === 'reference' ? 'the reference LSTM' : 'wasm';
  let diff: number;
  try {
    diff = await probeDifference(native, oracle, inputs[2]);
  } catch (e) {
    await native.release();
    return wasm(`onnxruntime-node failed a probe batch: ${firstLine(e)}`);
  } finally {
    await oracle.release();
  }
  if (!(diff <= AGREEMENT_TOLERANCE)) {
    await native.release();
    return wasm(`onnxruntime-node disagrees with ${against} on a probe batch (max relative difference ${diff.toExponential(2)} > ${AGREEMENT_TOLERANCE})`);
  }
  return { backend: native, requested: 'auto', kind: 'native', reason: `onnxruntime-node loads and agrees with ${against} (max relative difference ${diff.toExponential(2)})` };
}

function firstLine(e: unknown): string {
  return String((e as Error).message ?? e).split('\n')[0]!;
}

/** The largest |a - b| / max(1, |b|) between `a`'s and `oracle`'s outputs for a fixed two-step, three-device batch. */
export async function probeDifference(a: LstmBackend, oracle: LstmBackend, dims: Inputs[2]): Promise<number> {
  const { F, H, L } = dims;
  const seq = 2;
  const batch = 3;
  let s = 12345;
  const fill = (n: number, scale: number): Float32Array => Float32Array.from({ length: n }, () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648 - 0.5) * scale);
  const x = fill(seq * batch * F, 4);
  const h = fill(L * batch * H, 1);
  const c = fill(L * batch * H, 1);
  // Each run gets its own inputs, and its outputs are copied: a backend may hand back views of buffers it reuses.
  const outputs = async (b: LstmBackend): Promise<Map<string, Float32Array>> => {
    const out = await b.run(x.slice(), h.slice(), c.slice(), seq, batch);
    return new Map(Object.entries(out).flatMap(([k, v]) => (v instanceof Float32Array ? [[k, Float32Array.from(v)] as const] : [])));
  };
  const na = await outputs(a);
  const nb = await outputs(oracle);
  let worst = 0;
  for (const [k, va] of na) {
    const vb = nb.get(k);
    if (!vb || va.length !== vb.length) return Infinity;
    for (let i = 0; i < va.length; i++) {
      const d = Math.abs(va[i]! - vb[i]!) / Math.max(1, Math.abs(vb[i]!));
      if (Number.isNaN(d)) return Infinity;
      if (d > worst) worst = d;
    }
  }
  return worst;
}
