/** Tensor names of the model contract (DESIGN.md section 2). */
export interface TensorNames {
  x: string;
  h0: string;
  /** The cell state, for an LSTM; a GRU has none. */
  c0?: string;
  y: string;
  hn: string;
  cn?: string;
  ylogvar?: string;
}

export const DEFAULT_TENSOR_NAMES: Readonly<Required<TensorNames>> = Object.freeze({
  x: 'x', h0: 'h0', c0: 'c0', y: 'y', hn: 'hn', cn: 'cn', ylogvar: 'y_logvar',
});
