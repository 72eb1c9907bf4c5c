import { mulberry32 } from '../contract/weights';
import { Adam, clipGradNorm } from './adam';
import { ParamLayout, type NetShape } from './param-layout';
import { WindowGradient } from './window-gradient';

/** One round of fine-tuning, as the worker receives it: plain data, transferable. */
export interface FineTuneJob {
  readonly round: number;
  readonly shape: NetShape;
  /** The parameters of the model running now (ParamLayout order). */
  readonly params: Float64Array;
  /** `count` windows of `window` steps, oldest first: inputs [count][window][F], targets [count][window][T]. */
  readonly x: Float64Array;
  readonly y: Float64Array;
  readonly count: number;
  readonly window: number;
  readonly steps: number;
  readonly batchSize: number;
  readonly learningRate: number;
  readonly clipNorm: number;
  readonly holdoutEvery: number;
  readonly seed: number;
}

export interface FineTuneOutcome {
  readonly round: number;
  readonly params: Float64Array;
  /** Mean loss per predicted value on the held-out windows, before and after (NaN without a hold-out). */
  readonly before: number;
  readonly after: number;
  /** Whether the new parameters should replace the old ones. */
  readonly better: boolean;
  readonly trainWindows: number;
  readonly heldOutWindows: number;
}

/**
 * Fine-tunes `params` on the job's windows: `steps` Adam steps on
 * mini-batches drawn with a generator seeded by (seed, round), so the same
 * job gives the same parameters bit for bit. Every `holdoutEvery`-th window
 * is kept out of training and judges the result. `rest` is called after
 * each step with the milliseconds it took (the worker sleeps there to keep
 * to its CPU share).
 */
export function fineTune(job: FineTuneJob, rest: (stepMs: number) => void = () => undefined): FineTuneOutcome {
  const layout = new ParamLayout(job.shape);
  const { inputSize: F, outputs: T } = job.shape;
  const W = job.window;
  const train: number[] = [];
  const held: number[] = [];
  for (let i = 0; i < job.count; i++) (job.holdoutEvery > 0 && i % job.holdoutEvery === job.holdoutEvery - 1 ? held : train).push(i);
  if (train.length === 0) train.push(...held.splice(0));
  const net = new WindowGradient(layout, W);
  const params = Float64Array.from(job.params);
  const before = meanLoss(net, params, job, held);
  const grad = new Float64Array(layout.size);
  const adam = new Adam(layout.size);
  const rand = mulberry32((job.seed ^ Math.imul(job.round + 1, 0x9e3779b1)) >>> 0);
  for (let s = 0; s < job.steps; s++) {
    const t0 = performance.now();
    grad.fill(0);
    for (let b = 0; b < job.batchSize; b++) {
      const w = train[Math.floor(rand() * train.length)]!;
      net.lossAndGrad(params, grad, job.x, w * W * F, job.y, w * W * T, W);
    }
    const n = job.batchSize * W * T;
    for (let i = 0; i < grad.length; i++) grad[i] /= n;
    clipGradNorm(grad, job.clipNorm);
    adam.step(params, grad, job.learningRate);
    rest(performance.now() - t0);
  }
  const after = meanLoss(net, params, job, held);
  let finite = true;
  for (let i = 0; i < params.length && finite; i++) finite = Number.isFinite(params[i]!);
  const better = finite && (held.length === 0 || (Number.isFinite(after) && after < before));
  return { round: job.round, params, before, after, better, trainWindows: train.length, heldOutWindows: held.length };
}

function meanLoss(net: WindowGradient, params: Float64Array, job: FineTuneJob, windows: readonly number[]): number {
  if (windows.length === 0) return NaN;
  const { inputSize: F, outputs: T } = job.shape;
  const W = job.window;
  let sum = 0;
  for (const w of windows) sum += net.forward(params, job.x, w * W * F, job.y, w * W * T, W);
  return sum / (windows.length * W * T);
}
