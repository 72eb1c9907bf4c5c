/**
 * What the Sparkplug host side saw, by event:
 * - birth / death: NBIRTH, DBIRTH / NDEATH, DDEATH taken;
 * - stale_death: an NDEATH whose bdSeq is not the live session's (an old will), or of a node not online: ignored;
 * - no_birth: NDATA/DDATA from a node or device whose birth certificate was not seen: dropped, rebirth requested;
 * - unknown_alias: a metric alias the birth certificate did not announce: message dropped, rebirth requested;
 * - seq_gap: a sequence number that does not follow the last one: message kept, rebirth requested;
 * - rebirth_request: NCMD `Node Control/Rebirth` sent (at most one per node per --sparkplug-rebirth-interval-s);
 * - bad_payload: not a Sparkplug B topic or payload, or a mapped metric that is not a number: dropped;
 * - ignored: commands to other nodes, host applications' STATE, data with none of the model's metrics;
 * - over_limit: a birth beyond MAX_SPARKPLUG_NODES edge nodes or MAX_SPARKPLUG_DEVICES_PER_NODE devices: refused.
 */
export const SPARKPLUG_EVENTS = ['birth', 'death', 'stale_death', 'no_birth', 'unknown_alias', 'seq_gap', 'rebirth_request', 'bad_payload', 'ignored', 'over_limit'] as const;
export type SparkplugEvent = (typeof SPARKPLUG_EVENTS)[number];

/** Plain counters (a field add per event on the hot path; Prometheus reads them at scrape time). */
export class SparkplugCounts {
  readonly #n: Record<SparkplugEvent, number> = Object.fromEntries(SPARKPLUG_EVENTS.map((e) => [e, 0])) as Record<SparkplugEvent, number>;

  add(e: SparkplugEvent): void {
    this.#n[e]++;
  }

  get(e: SparkplugEvent): number {
    return this.#n[e];
  }

  snapshot(): Record<SparkplugEvent, number> {
    return { ...this.#n };
  }
}
