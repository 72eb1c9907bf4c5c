/**
 * The worker thread of continual learning: receives a FineTuneJob, trains,
 * and answers with the new parameters and, when they are better, the ONNX
 * bytes of the fine-tuned model. It lowers its own thread's priority (Linux:
 * its nice value on its thread only) and sleeps between Adam steps to keep to its
 * share of one core, so the inference thread keeps the CPU it needs.
 */
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort, workerData } from 'node:worker_threads';
import { encodeMetadata, type ModelMetadata } from '../model/metadata';
import { buildLstmModel } from '../onnx/lstm-graph';
import { fineTune, type FineTuneJob, type FineTuneOutcome } from './fine-tune';
import { ParamLayout } from './param-layout';

export interface WorkerRequest {
  readonly job: FineTuneJob;
  /** The metadata the fine-tuned model carries (the base model's, training summary replaced). */
  readonly metadata: ModelMetadata;
  readonly cpuShare: number;
}

export type WorkerReply = { ok: true; outcome: FineTuneOutcome; bytes: Uint8Array | null } | { ok: false; error: string };

function lowerPriority(nice: number): void {
  if (nice === 0) return;
  try {
    // /proc/thread-self names this thread's task id; setpriority on it nices this thread alone.
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, nice);
  } catch {
    // Not Linux, or not allowed: the step budget and the CPU share still bound the cost.
  }
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));

export function handle(req: WorkerRequest): WorkerReply {
  try {
    const share = req.cpuShare;
    const rest = share >= 1 ? undefined : (ms: number): void => void Atomics.wait(sleeper, 0, 0, (ms * (1 - share)) / share);
    const outcome = fineTune(req.job, rest);
    let bytes: Uint8Array | null = null;
    if (outcome.better) {
      const weights = new ParamLayout(req.job.shape).toWeights(outcome.params);
      bytes = buildLstmModel(weights, { names: req.metadata.io, metadata: encodeMetadata(req.metadata), producerName: 'edgelstm learn' });
    }
    return { ok: true, outcome, bytes };
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
}

if (parentPort) {
  lowerPriority(typeof workerData === 'number' ? workerData : 10);
  const port = parentPort;
  port.on('message', (req: WorkerRequest) => {
    const reply = handle(req);
    port.postMessage(reply, reply.ok ? [reply.outcome.params.buffer as ArrayBuffer, ...(reply.bytes ? [reply.bytes.buffer as ArrayBuffer] : [])] : []);
  });
}
