/** edgelstm: streaming LSTM inference for sensor fleets. The library's public API. */
export { Engine, type EngineCounters, type BatchInfo, type SampleCallback } from './engine/engine';
export { ENGINE_DEFAULTS, resolveEngineOptions, type EngineOptions, type ResolvedEngineOptions } from './engine/options';
export type { Sample, Result } from './engine/sample';
export { validateSample } from './engine/sample';
export { loadModel, type Model, type LoadModelOptions } from './model/load-model';
export type { ModelMetadata, Normalization, Quantization } from './model/metadata';
export { encodeMetadata, parseMetadata } from './model/metadata';
export type { BackendKind, LstmBackend } from './backend/backend';
export type { LstmWeights } from './model/weights';
export { referenceForward } from './model/reference-lstm';
export { buildLstmModel, DEFAULT_TENSOR_NAMES, type TensorNames } from './onnx/lstm-graph';
export { MemoryStateStore } from './state/memory-store';
export type { DeviceStateStore, StateLayout, StoreOptions } from './state/store';
export { EdgeLstmError, SampleError, ModelError, type ErrorCode, type ErrorDetails } from './errors';
export { defaultModelPath } from './model/default-model';
export { replayCsv, type ReplayOptions, type ReplayRecord, type ReplaySummary } from './replay/replay';
export { generateSigningKeyPair, signModelBytes, verifyModelSignature } from './model/signature';
