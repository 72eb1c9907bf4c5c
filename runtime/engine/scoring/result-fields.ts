import type { Episode } from '../sample';
import { EpisodeEvent, type ReadingScore } from './device-scorer';

/** Shared by every result that names no anomalous feature (frozen: results are read, not edited). */
export const NO_FEATURES: string[] = Object.freeze([]) as unknown as string[];

/** The result's `episode` field: null outside an episode; allocated only inside one. */
export function episodeOf(r: ReadingScore, ts: number, features: string[]): Episode | null {
  if (!r.anomaly && r.event !== EpisodeEvent.End) return null;
  return {
    state: r.event === EpisodeEvent.Start ? 'start' : r.event === EpisodeEvent.End ? 'end' : 'active',
    start: r.episodeStart,
    readings: r.episodeReadings,
    durationMs: ts - r.episodeStart,
    peak: r.episodePeak,
    features,
  };
}

/** True for the two results of an episode that go to the anomaly topic: its start and its end. */
export function isEpisodeEvent(r: { episode: Episode | null }): boolean {
  return r.episode !== null && r.episode.state !== 'active';
}
