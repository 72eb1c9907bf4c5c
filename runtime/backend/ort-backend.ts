import type { InferenceSession, Tensor, TypedTensor } from 'onnxruntime-common';
import type { TensorNames } from '../onnx/lstm-graph';
import type { LstmOutputs } from '../model/reference-lstm';
import type { BackendKind, BackendOptions, LstmBackend } from './backend';

/** The part of an onnxruntime package (node or web) this backend uses; both expose the same API. */
export interface OrtModule {
  InferenceSession: { create(model: Uint8Array, options?: InferenceSession.SessionOptions): Promise<InferenceSession> };
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => TypedTensor<'float32'>;
}

export interface ModelDims {
  F: number;
  H: number;
  L: number;
  T: number;
}

/** ONNX Runtime behind the LstmBackend interface. The session handle stays private. */
export class OrtBackend implements LstmBackend {
  readonly kind: BackendKind;
  #session: InferenceSession | undefined;
  readonly #ort: OrtModule;
  readonly #io: TensorNames;
  readonly #dims: ModelDims;

  private constructor(kind: BackendKind, ort: OrtModule, session: InferenceSession, io: TensorNames, dims: ModelDims) {
    this.kind = kind;
    this.#ort = ort;
    this.#session = session;
    this.#io = io;
    this.#dims = dims;
  }

  static async create(kind: BackendKind, ort: OrtModule, bytes: Uint8Array, io: TensorNames, dims: ModelDims, opts: BackendOptions = {}): Promise<OrtBackend> {
    const threads = opts.threads ?? 1;
    const session = await ort.InferenceSession.create(bytes, {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    });
    return new OrtBackend(kind, ort, session, io, dims);
  }

  async run(x: Float32Array, h: Float32Array, c: Float32Array, seq: number, batch: number): Promise<LstmOutputs> {
    const session = this.#session;
    if (!session) throw new Error('backend was released');
    const { F, H, L } = this.#dims;
    const T = this.#ort.Tensor;
    const io = this.#io;
    const out = await session.run({
      [io.x]: new T('float32', x, [seq, batch, F]),
      [io.h0]: new T('float32', h, [L, batch, H]),
      [io.c0]: new T('float32', c, [L, batch, H]),
    });
    const f32 = (name: string): Float32Array => (out[name] as Tensor).data as Float32Array;
    const result: LstmOutputs = { y: f32(io.y), hn: f32(io.hn), cn: f32(io.cn) };
    if (io.ylogvar !== undefined) result.ylogvar = f32(io.ylogvar);
    return result;
  }

  async release(): Promise<void> {
    const s = this.#session;
    this.#session = undefined;
    if (s) await s.release();
  }
}
