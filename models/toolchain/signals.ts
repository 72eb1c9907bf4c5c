import { mulberry32 } from '../../runtime/contract/weights';

/** The kinds of structure a synthetic series is built from. */
export const SIGNAL_FAMILIES = ['seasonal', 'weekly', 'trend', 'random-walk', 'ar1', 'level-shift', 'regime-change', 'square-wave', 'sawtooth', 'spikes', 'bursty-noise', 'daily-steps'] as const;
export type SignalFamily = (typeof SIGNAL_FAMILIES)[number];

export interface SyntheticSeries {
  readonly name: string;
  /** The families mixed into this series, in the order they were added. */
  readonly families: readonly SignalFamily[];
  readonly values: Float64Array;
  /** Samples per simulated day. */
  readonly samplesPerDay: number;
}

/** Sampling rates of real sensor feeds, as samples per day: hourly, 30, 15, 10 and 5 minutes. */
const SAMPLES_PER_DAY = [24, 48, 96, 144, 288] as const;

/** A seeded source of the random draws the generator needs. */
class Draw {
  readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  uniform(a: number, b: number): number {
    return a + (b - a) * this.next();
  }
  int(a: number, b: number): number {
    return Math.floor(this.uniform(a, b + 1));
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  /** Standard normal (Box-Muller). */
  normal(): number {
    const u = Math.max(this.next(), 1e-300);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }
  /** Log-uniform on [a, b]: scales spread over orders of magnitude. */
  logUniform(a: number, b: number): number {
    return Math.exp(this.uniform(Math.log(a), Math.log(b)));
  }
}

/** Noise of several kinds: Gaussian, heavy-tailed (Student-t, 3 dof), uniform, or none but quantization. */
function noiseSource(d: Draw): (() => number) & { kind: string } {
  const kind = d.pick(['gaussian', 'gaussian', 'student-t', 'uniform', 'laplace']);
  const f = (): number => {
    switch (kind) {
      case 'student-t': {
        const z = d.normal();
        const chi = d.normal() ** 2 + d.normal() ** 2 + d.normal() ** 2;
        return (z / Math.sqrt(chi / 3)) * 0.58;
      }
      case 'uniform':
        return d.uniform(-1.73, 1.73);
      case 'laplace': {
        const u = d.uniform(-0.5, 0.5);
        return -Math.sign(u) * Math.log(1 - 2 * Math.abs(u)) * 0.707;
      }
      default:
        return d.normal();
    }
  };
  return Object.assign(f, { kind });
}

/**
 * One synthetic sensor series: a random mix of seasonality (daily, with or
 * without a weekly pattern, at several sampling rates and phases), trend,
 * random walk or AR(1) drift, level shifts, regime changes (the amplitude,
 * noise or period changes mid-series), on/off square waves, sawtooth cycles,
 * sparse spikes and bursts of noise; then a random scale and offset, and
 * sometimes quantization, so no two look alike and nothing depends on units.
 * Deterministic in (seed, index).
 */
export function syntheticSeries(seed: number, index: number, length: number, stepsChance = 0): SyntheticSeries {
  const mix = (Math.imul(seed, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca6b)) >>> 0;
  const d = new Draw(mix);
  const spd = d.pick(SAMPLES_PER_DAY);
  const v = new Float64Array(length);
  const families: SignalFamily[] = [];
  const noise = noiseSource(d);
  let noiseStd = d.logUniform(0.02, 0.5);

  // Structure: usually seasonal, often with drift; always at least one family.
  if (d.chance(0.7)) {
    const weekly = d.chance(0.3);
    families.push(weekly ? 'weekly' : 'seasonal');
    const amp = d.uniform(0.5, 2);
    const phase = d.uniform(0, 2 * Math.PI);
    const h2 = d.uniform(0, 0.5);
    const h3 = d.uniform(0, 0.25);
    const weekend = d.uniform(0.2, 1);
    let period = spd * (d.chance(0.15) ? d.pick([0.5, 1 / 3, 1 / 4]) : 1);
    const regimeAt = d.chance(0.25) ? d.int(Math.floor(length * 0.3), Math.floor(length * 0.7)) : -1;
    if (regimeAt >= 0) families.push('regime-change');
    let a = amp;
    for (let t = 0; t < length; t++) {
      if (t === regimeAt) {
        if (d.chance(0.5)) a = amp * d.uniform(0.2, 3);
        else period = period * d.pick([0.5, 2]);
        noiseStd *= d.uniform(0.5, 2);
      }
      const ph = (2 * Math.PI * t) / period + phase;
      let s = Math.sin(ph) + h2 * Math.sin(2 * ph + 1) + h3 * Math.sin(3 * ph + 2);
      if (weekly && Math.floor(t / spd) % 7 >= 5) s *= weekend;
      v[t] = a * s;
    }
  }
  if (d.chance(0.3) || families.length === 0) {
    families.push(d.chance(0.5) ? 'random-walk' : 'ar1');
    const step = d.logUniform(0.02, 0.3);
    const phi = families[families.length - 1] === 'ar1' ? d.uniform(0.8, 0.995) : 1;
    let w = 0;
    for (let t = 0; t < length; t++) {
      w = phi * w + step * d.normal();
      v[t] += w;
    }
  }
  if (d.chance(0.25)) {
    families.push('trend');
    const slope = d.uniform(-3, 3) / length;
    for (let t = 0; t < length; t++) v[t] += slope * t;
  }
  if (d.chance(0.25)) {
    families.push('level-shift');
    const shifts = d.int(1, 3);
    for (let k = 0; k < shifts; k++) {
      const at = d.int(1, length - 1);
      const by = d.uniform(-3, 3);
      for (let t = at; t < length; t++) v[t] += by;
    }
  }
  if (d.chance(0.12)) {
    families.push('square-wave');
    const on = d.int(5, 60);
    const off = d.int(5, 120);
    const level = d.uniform(1, 3);
    for (let t = 0; t < length; t++) if (t % (on + off) < on) v[t] += level;
  }
  if (d.chance(0.08)) {
    families.push('sawtooth');
    const period = d.int(10, 200);
    const amp = d.uniform(0.5, 2);
    for (let t = 0; t < length; t++) v[t] += amp * ((t % period) / period);
  }
  if (d.chance(0.2)) {
    families.push('bursty-noise');
    let t = 0;
    while (t < length) {
      t += d.int(50, 800);
      const len = d.int(5, 60);
      const k = d.uniform(2, 6);
      for (let u = t; u < Math.min(length, t + len); u++) v[u] += k * noiseStd * noise();
      t += len;
    }
  }
  for (let t = 0; t < length; t++) v[t] += noiseStd * noise();
  if (d.chance(0.2)) {
    families.push('spikes');
    const n = d.int(1, Math.max(1, Math.floor(length / 500)));
    for (let k = 0; k < n; k++) v[d.int(0, length - 1)] += d.uniform(3, 8) * (d.chance(0.5) ? 1 : -1);
  }
  if (stepsChance > 0) dailySteps(new Draw((mix ^ 0x27d4eb2f) >>> 0), stepsChance, spd, v, families);
  // Units: a scale over four orders of magnitude and an offset, sometimes a sensor that reports coarse steps.
  const scale = d.logUniform(0.1, 1000);
  const offset = d.uniform(-2, 10) * scale;
  const quantum = d.chance(0.15) ? scale * d.logUniform(0.01, 0.1) : 0;
  for (let t = 0; t < length; t++) {
    const x = v[t]! * scale + offset;
    v[t] = quantum > 0 ? Math.round(x / quantum) * quantum : x;
  }
  return { name: `synthetic-${seed}-${index}`, families, values: v, samplesPerDay: spd };
}

/** `count` series of `length` samples: the corpus the generic model is trained (and checked) on. */
export function syntheticCorpus(seed: number, count: number, length: number, stepsChance = 0): SyntheticSeries[] {
  const out: SyntheticSeries[] = [];
  for (let i = 0; i < count; i++) out.push(syntheticSeries(seed, i, length, stepsChance));
  return out;
}

/**
 * With probability `chance`, replace the series by a sampled-and-held daily schedule with sharp edges
 * and (often) no noise at all: a setpoint schedule, a meter that reports a new value every few samples.
 * Flat for long stretches, so the right forecast is usually the last value exactly. Its own draws
 * (`e`), so the series it does not replace are unchanged.
 */
function dailySteps(e: Draw, chance: number, spd: number, v: Float64Array, families: SignalFamily[]): void {
  if (!e.chance(chance)) return;
  families.length = 0;
  families.push('daily-steps');
  const hold = e.pick([1, 1, 2, 3, 6, 12]);
  const segments = e.int(2, 4);
  const edges: number[] = [];
  for (let k = 0; k < segments; k++) edges.push(e.uniform(0, 1));
  edges.sort((a, b) => a - b);
  const levels: number[] = [];
  for (let k = 0; k < segments; k++) levels.push(e.uniform(-2, 2));
  const rate = e.chance(0.5) ? 1 : e.uniform(0.3, 0.9);
  const noiseStd = e.chance(0.5) ? 0 : e.logUniform(0.002, 0.05);
  let x = levels[segments - 1]!;
  for (let t = 0; t < v.length; t++) {
    if (t % hold === 0) {
      const phase = (t % spd) / spd;
      let k = segments - 1;
      for (let j = 0; j < segments; j++) if (phase >= edges[j]!) k = j;
      x += rate * (levels[k]! - x);
    }
    v[t] = x + (noiseStd > 0 ? noiseStd * e.normal() : 0);
  }
}
