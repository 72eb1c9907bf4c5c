import { CLIP } from '../model/normalizer';
import { WindowRing } from './window-ring';

/** The window being filled for one device: (input, next-step target) pairs, in the model's normalized units. */
interface DeviceWindow {
  readonly x: Float64Array;
  readonly y: Float64Array;
  pairs: number;
  /** The last usable reading's input and the statistics its target is normalized with. */
  hasPrev: boolean;
  readonly prevX: Float64Array;
  readonly prevMean: Float64Array;
  readonly prevStd: Float64Array;
}

/**
 * Cuts training windows from the readings of a bounded set of devices (the
 * first `devices` ones admitted, in arrival order) into a WindowRing. A
 * window is `steps` consecutive pairs of the model's input at t and the
 * reading at t+1 normalized with the statistics of t, exactly what the
 * toolchain trains on (models/toolchain/series-data.ts). A reading that is
 * not usable (warm-up, flagged anomalous, first of a device) breaks the
 * window: anomalies are never learned as normal.
 */
export class WindowCollector {
  readonly ring: WindowRing;
  readonly #devices = new Map<string, DeviceWindow>();
  readonly #maxDevices: number;
  readonly #F: number;
  readonly #T: number;
  readonly #steps: number;

  constructor(opts: { steps: number; windows: number; devices: number; features: number; targets: number }) {
    this.#maxDevices = opts.devices;
    this.#F = opts.features;
    this.#T = opts.targets;
    this.#steps = opts.steps;
    this.ring = new WindowRing(opts.windows, opts.steps, opts.features, opts.targets);
  }

  /** Devices windows are being cut from. */
  get devices(): number {
    return this.#devices.size;
  }

  /** Bytes held: the ring plus the per-device windows being filled. */
  get bytes(): number {
    const F = this.#F;
    const T = this.#T;
    return this.ring.bytes + this.#devices.size * 8 * (this.#steps * (F + T) + F + 2 * T);
  }

  /** Called in arrival order: a device gets a window while there is room for one. */
  admit(device: string): void {
    if (this.#devices.has(device) || this.#devices.size >= this.#maxDevices) return;
    const F = this.#F;
    const T = this.#T;
    this.#devices.set(device, {
      x: new Float64Array(this.#steps * F),
      y: new Float64Array(this.#steps * T),
      pairs: 0,
      hasPrev: false,
      prevX: new Float64Array(F),
      prevMean: new Float64Array(T),
      prevStd: new Float64Array(T),
    });
  }

  /** Whether windows are cut from this device (cheap: one Map lookup). */
  has(device: string): boolean {
    return this.#devices.has(device);
  }

  /** The device left (evicted, expired, reset): its room goes to the next new device. */
  forget(device: string): void {
    this.#devices.delete(device);
  }

  /** A reset of every device: windows in progress are dropped, the ring is kept. */
  forgetAll(): void {
    this.#devices.clear();
  }

  /**
   * One stepped reading of a device. `x` is the model's input for it (F
   * values from xOff), `values` the raw reading, `mean`/`std` the target
   * statistics after observing it. `tag` orders completed windows.
   */
  observe(device: string, tag: number, usable: boolean, x: ArrayLike<number>, xOff: number, values: ArrayLike<number>, targetIndex: readonly number[], mean: ArrayLike<number>, std: ArrayLike<number>): void {
    const w = this.#devices.get(device);
    if (w === undefined) return;
    if (!usable) {
      w.pairs = 0;
      w.hasPrev = false;
      return;
    }
    const F = this.#F;
    const T = this.#T;
    if (w.hasPrev) {
      const p = w.pairs;
      for (let f = 0; f < F; f++) w.x[p * F + f] = w.prevX[f]!;
      for (let t = 0; t < T; t++) {
        const z = (values[targetIndex[t]!]! - w.prevMean[t]!) / w.prevStd[t]!;
        w.y[p * T + t] = z > CLIP ? CLIP : z < -CLIP ? -CLIP : z;
      }
      w.pairs = p + 1;
      if (w.pairs === this.#steps) {
        this.ring.push(tag, w.x, w.y);
        w.pairs = 0;
      }
    }
    for (let f = 0; f < F; f++) w.prevX[f] = x[xOff + f]!;
    for (let t = 0; t < T; t++) {
      w.prevMean[t] = mean[t]!;
      w.prevStd[t] = std[t]!;
    }
    w.hasPrev = true;
  }
}
