/**
 * Adam (Kingma & Ba) over one flat parameter vector, with PyTorch's defaults
 * (beta1 0.9, beta2 0.999, eps 1e-8) so learning rates carry over.
 */
export class Adam {
  readonly #m: Float64Array;
  readonly #v: Float64Array;
  #t = 0;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;

  constructor(size: number, beta1 = 0.9, beta2 = 0.999, eps = 1e-8) {
    this.#m = new Float64Array(size);
    this.#v = new Float64Array(size);
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.eps = eps;
  }

  /** One update of `params` from `grad` (already averaged and clipped). */
  step(params: Float64Array, grad: Float64Array, lr: number): void {
    this.#t++;
    const { beta1: b1, beta2: b2, eps } = this;
    const c1 = 1 - Math.pow(b1, this.#t);
    const c2 = 1 - Math.pow(b2, this.#t);
    const m = this.#m;
    const v = this.#v;
    for (let i = 0; i < params.length; i++) {
      const g = grad[i]!;
      const mi = b1 * m[i]! + (1 - b1) * g;
      const vi = b2 * v[i]! + (1 - b2) * g * g;
      m[i] = mi;
      v[i] = vi;
      params[i] -= (lr * (mi / c1)) / (Math.sqrt(vi / c2) + eps);
    }
  }
}

/** Scales `grad` so its L2 norm is at most `maxNorm` (PyTorch's clip_grad_norm_); returns the norm before clipping. */
export function clipGradNorm(grad: Float64Array, maxNorm: number): number {
  let ss = 0;
  for (let i = 0; i < grad.length; i++) ss += grad[i]! * grad[i]!;
  const norm = Math.sqrt(ss);
  if (norm > maxNorm && maxNorm > 0) {
    const k = maxNorm / (norm + 1e-6);
    for (let i = 0; i < grad.length; i++) grad[i] *= k;
  }
  return norm;
}
