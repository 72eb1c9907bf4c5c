import { encodeMetadata, type ModelMetadata, type Normalization } from '../../runtime/model/metadata';
import type { LstmWeights } from '../../runtime/contract/weights';
import { DEFAULT_TENSOR_NAMES, type TensorNames } from '../../runtime/contract/tensor-names';
import { buildLstmModel } from '../../runtime/onnx/lstm-graph';
import type { TrainResult } from './train';
import type { CellKind } from '../../runtime/contract/cell';

/** What the model file says about itself, beyond the weights. */
export interface ExportInfo {
  name: string;
  version: string;
  features: string[];
  targets: string[];
  normalization: Normalization;
  /** The `edgelstm.training` summary. */
  training: Record<string, unknown>;
}

/** The tensor names a trained model uses (the contract's defaults; y_logvar only with a variance head; no c0/cn for a GRU). */
export function trainedTensorNames(withLogvar: boolean, cell: CellKind = 'lstm'): TensorNames {
  const { x, h0, c0, y, hn, cn, ylogvar } = DEFAULT_TENSOR_NAMES;
  const names: TensorNames = cell === 'gru' ? { x, h0, y, hn } : { x, h0, c0, y, hn, cn };
  return withLogvar ? { ...names, ylogvar } : names;
}

/** The ONNX bytes of a trained model, with the full `edgelstm.*` metadata (DESIGN.md section 2). */
export function exportModel(weights: LstmWeights, info: ExportInfo): Uint8Array {
  const io = trainedTensorNames(weights.logvarHead !== undefined, weights.cell);
  const metadata: ModelMetadata = {
    format: 1,
    name: info.name,
    version: info.version,
    features: info.features,
    targets: info.targets,
    normalization: info.normalization,
    io,
    quantization: { scheme: 'none' },
    training: info.training,
  };
  return buildLstmModel(weights, { names: io, metadata: encodeMetadata(metadata), producerName: 'edgelstm train' });
}

/** The training part of the metadata: enough to tell how a model came about and how well it fit. */
export function trainingSummary(result: TrainResult, data: Record<string, unknown>, opts: Record<string, unknown>): Record<string, unknown> {
  const last = result.history[result.history.length - 1];
  const best = result.history.find((h) => h.epoch === result.bestEpoch);
  const round = (v: number | null | undefined): number | null => (v === null || v === undefined ? null : Number(v.toPrecision(6)));
  return {
    data,
    options: opts,
    loss: result.loss,
    epochs: result.history.length,
    bestEpoch: result.bestEpoch,
    stoppedEarly: result.stoppedEarly,
    trainWindows: result.split.train.length / 2,
    valWindows: result.split.val.length / 2,
    validation: result.split.valRule,
    final: { trainLoss: round(last?.trainLoss), valLoss: round(last?.valLoss) },
    best: { trainLoss: round(best?.trainLoss), valLoss: round(best?.valLoss), valMse: round(best?.valMse) },
    losses: { train: result.history.map((h) => round(h.trainLoss)), val: result.history.map((h) => round(h.valLoss)) },
    durationSeconds: Math.round(result.durationMs / 100) / 10,
    trainer: 'edgelstm (TypeScript)',
  };
}
