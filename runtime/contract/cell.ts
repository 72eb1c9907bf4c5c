/** The recurrent cell a model is built from: LSTM carries h and c, GRU only h. */
export type CellKind = 'lstm' | 'gru';

/**
 * Where the batch axis of `x` and `y` sits: `seq-first` is the contract's
 * `[seq, batch, F]`; `batch-first` is what `nn.LSTM(batch_first=True)` exports
 * (`[batch, seq, F]`). The state tensors are `[L, batch, H]` either way.
 */
export type SequenceLayout = 'seq-first' | 'batch-first';

export const SEQUENCE_LAYOUTS: readonly SequenceLayout[] = ['seq-first', 'batch-first'];
