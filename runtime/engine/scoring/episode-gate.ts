import type { Episode, Result } from '../sample';
import { SCORING_DEFAULTS } from './scoring-options';

/**
 * The engine calms an episode on its recent forecast errors (scoring.calmZ), which a gate over results
 * cannot see; over the likelihood alone it waits for this many readings below `release`.
 */
export const GATE_CALM_READINGS = 3;

interface Open {
  start: number;
  readings: number;
  peak: number;
  calm: number;
  features: Set<string>;
}

/**
 * Episodes at a threshold of the caller's own, over results of an engine
 * that runs at another (a Node-RED anomaly node on a shared engine): the
 * same rule as the engine's (opens at the threshold, closes after
 * `calmReadings` (default GATE_CALM_READINGS) below `release`, or as a new normal after `relearnAfter`
 * readings and `relearnAfterMs`; for `refractory` readings after an episode
 * only a likelihood above its peak opens another; the level hold needs the engine's
 * statistics and is left out), kept per
 * device. Rewrites the result's `anomaly`, `anomalous` and `episode`.
 */
export class EpisodeGate {
  readonly threshold: number;
  readonly #open = new Map<string, Open>();
  /** Devices in their refractory period after an episode: readings left and that episode's peak. */
  readonly #quiet = new Map<string, { left: number; peak: number }>();
  readonly #release: number;
  readonly #calm: number;
  readonly #relearnAfter: number;
  readonly #relearnAfterMs: number;
  readonly #refractory: number;

  constructor(threshold: number, o: { release?: number; calmReadings?: number; relearnAfter?: number; relearnAfterMs?: number; refractory?: number } = {}) {
    this.threshold = threshold;
    this.#release = Math.min(o.release ?? SCORING_DEFAULTS.release, threshold);
    this.#calm = o.calmReadings ?? GATE_CALM_READINGS;
    this.#relearnAfter = o.relearnAfter ?? SCORING_DEFAULTS.relearnAfter;
    this.#relearnAfterMs = o.relearnAfterMs ?? SCORING_DEFAULTS.relearnAfterMs;
    this.#refractory = o.refractory ?? SCORING_DEFAULTS.refractory;
  }

  apply(r: Result): void {
    const lik = r.likelihood;
    let e = this.#open.get(r.device);
    if (e === undefined) {
      r.episode = null;
      r.anomaly = false;
      const quiet = this.#quiet.get(r.device);
      if (quiet !== undefined && --quiet.left <= 0) this.#quiet.delete(r.device);
      if (r.warmup || lik === null || lik < this.threshold) return;
      // Refractory: only evidence stronger than the last episode's peak opens another.
      if (quiet !== undefined && !(lik > quiet.peak)) return;
      this.#quiet.delete(r.device);
      e = { start: r.ts, readings: 0, peak: lik, calm: 0, features: new Set(r.anomalous) };
      this.#open.set(r.device, e);
      r.anomaly = true;
      r.episode = this.#episode(e, r, 'start');
      return;
    }
    e.readings++;
    if (lik !== null && lik > e.peak) e.peak = lik;
    for (const f of r.anomalous) e.features.add(f);
    e.calm = lik === null || lik < this.#release ? e.calm + 1 : 0;
    const ended = r.warmup || e.calm >= this.#calm || (this.#relearnAfter > 0 && e.readings + 1 >= this.#relearnAfter && r.ts - e.start >= this.#relearnAfterMs);
    r.anomaly = !ended;
    r.episode = this.#episode(e, r, ended ? 'end' : 'active');
    if (ended) {
      this.#open.delete(r.device);
      if (this.#refractory > 0) this.#quiet.set(r.device, { left: this.#refractory, peak: e.peak });
    }
  }

  /** Forgets a device (reset, or its state dropped). */
  forget(device: string | 'all'): void {
    if (device === 'all') {
      this.#open.clear();
      this.#quiet.clear();
    } else {
      this.#open.delete(device);
      this.#quiet.delete(device);
    }
  }

  #episode(e: Open, r: Result, state: Episode['state']): Episode {
    const features = [...e.features];
    r.anomalous = features;
    return { state, start: e.start, readings: e.readings + 1, durationMs: r.ts - e.start, peak: e.peak, features };
  }
}
