/** What one cluster instance did, for /health, logs and the benchmark. */
export interface ClusterCounters {
  /** Readings taken from owned partitions. */
  readings: number;
  /** Results published. */
  results: number;
  /** Readings refused (bad subject, payload or values); acknowledged, no state changed. */
  invalid: number;
  /** Readings whose batch failed in inference. */
  failed: number;
  /** Readings stepped again after a takeover without publishing (an earlier owner had answered them). */
  replayed: number;
  /** Results published again after a takeover, flagged `"redelivered": true`. */
  redelivered: number;
  /** Readings the stream holds twice (an MQTT QoS 1 publish stored again): a device's reading no newer than its last, not stepped again. */
  duplicates: number;
  snapshots: number;
  snapshotBytes: number;
  snapshotMs: number;
  snapshotsRefused: number;
  partitionsStarted: number;
  partitionsReleased: number;
  partitionsAbandoned: number;
  leasesLost: number;
}

export function newClusterCounters(): ClusterCounters {
  return {
    readings: 0, results: 0, invalid: 0, failed: 0, replayed: 0, redelivered: 0, duplicates: 0,
    snapshots: 0, snapshotBytes: 0, snapshotMs: 0, snapshotsRefused: 0,
    partitionsStarted: 0, partitionsReleased: 0, partitionsAbandoned: 0, leasesLost: 0,
  };
}
