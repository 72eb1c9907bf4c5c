/** What one LSTM computation returns, in the model contract's layouts (DESIGN.md section 2). */
export interface LstmOutputs {
  /** [seq, batch, T] */
  y: Float32Array;
  /** [L, batch, H] */
  hn: Float32Array;
  /** [L, batch, H]; empty for a GRU. */
  cn: Float32Array;
  /** [seq, batch, T], when the model has a log-variance head. */
  ylogvar?: Float32Array;
}
