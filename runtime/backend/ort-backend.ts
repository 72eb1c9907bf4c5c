import type { InferenceSession, Tensor, TypedTensor } from 'onnxruntime-common';
import type { LstmOutputs } from '../contract/outputs';
import type { BackendGraph, BackendKind, BackendOptions, LstmBackend } from './backend';
import { swapLeadingAxes } from './swap-axes';

/** The part of an onnxruntime package (node or web) this backend uses; both expose the same API. */
export interface OrtModule {
  InferenceSession: { create(model: Uint8Array, options?: InferenceSession.SessionOptions): Promise<InferenceSession> };
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => TypedTensor<'float32'>;
}

const NO_STATE = new Float32Array(0);

/** ONNX Runtime behind the LstmBackend interface. The session handle stays private. */
export class OrtBackend implements LstmBackend {
  readonly kind: BackendKind;
  #session: InferenceSession | undefined;
  readonly #ort: OrtModule;
  readonly #graph: BackendGraph;

  private constructor(kind: BackendKind, ort: OrtModule, session: InferenceSession, graph: BackendGraph) {
    this.kind = kind;
    this.#ort = ort;
    this.#session = session;
    this.#graph = graph;
  }

  static async create(kind: BackendKind, ort: OrtModule, bytes: Uint8Array, graph: BackendGraph, opts: BackendOptions = {}): Promise<OrtBackend> {
    const threads = opts.threads ?? 1;
    const session = await ort.InferenceSession.create(bytes, {
      // Named, not left to priority: with both runtimes loaded they share onnxruntime-common, where native's cpu outranks wasm.
      executionProviders: [kind === 'wasm' ? 'wasm' : 'cpu'],
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    });
    return new OrtBackend(kind, ort, session, graph);
  }

  async run(x: Float32Array, h: Float32Array, c: Float32Array, seq: number, batch: number): Promise<LstmOutputs> {
    const session = this.#session;
    if (!session) throw new Error('backend was released');
    const { io, dims, layout } = this.#graph;
    const { F, H, L, T: targets } = dims;
    const T = this.#ort.Tensor;
    // With one step, [1, batch, F] and [batch, 1, F] are the same bytes: only the dims differ.
    const batchFirst = layout === 'batch-first';
    const feeds: Record<string, TypedTensor<'float32'>> = {
      [io.x]: batchFirst ? new T('float32', swapLeadingAxes(x, seq, batch, F), [batch, seq, F]) : new T('float32', x, [seq, batch, F]),
      [io.h0]: new T('float32', h, [L, batch, H]),
    };
    if (io.c0 !== undefined) feeds[io.c0] = new T('float32', c, [L, batch, H]);
    const out = await session.run(feeds);
    const f32 = (name: string): Float32Array => (out[name] as Tensor).data as Float32Array;
    const seqFirst = (name: string): Float32Array => (batchFirst ? swapLeadingAxes(f32(name), batch, seq, targets) : f32(name));
    const result: LstmOutputs = { y: seqFirst(io.y), hn: f32(io.hn), cn: io.cn !== undefined ? f32(io.cn) : NO_STATE };
    if (io.ylogvar !== undefined) result.ylogvar = seqFirst(io.ylogvar);
    return result;
  }

  async release(): Promise<void> {
    const s = this.#session;
    this.#session = undefined;
    if (s) await s.release();
  }
}
