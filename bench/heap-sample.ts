/**
 * Allocation per message, garbage included: preloaded into a service, it runs V8's sampling heap
 * profiler with objects that minor and major GCs collected kept in the profile (a plain heap
 * snapshot sees only what survives), and v8.GCProfiler, and writes both at exit or SIGTERM/SIGINT.
 *
 *   BENCH_SERVICE_NODE_FLAGS="--require ./dist/bench/heap-sample.js" HEAP_SAMPLE_DIR=/tmp/heap \
 *     node dist/bench/mqtt.js --qos 1 --devices 1000 --naive=false --repeats 1 --seconds 5
 *   node dist/bench/heap-split.js /tmp/heap/<tag>-<pid>.heapprofile
 *
 * Bytes per message = the profile's sampled bytes / the messages the service handled. Files are named
 * `${HEAP_SAMPLE_TAG ?? 'service'}-${pid}.heapprofile` and `.gc.json` (GC passes: count the scavenges).
 */
import { Session } from 'node:inspector';
import { GCProfiler } from 'node:v8';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.env['HEAP_SAMPLE_DIR'] ?? '/tmp/edgelstm-heap';
const base = join(dir, `${process.env['HEAP_SAMPLE_TAG'] ?? 'service'}-${process.pid}`);
mkdirSync(dir, { recursive: true });
const session = new Session();
session.connect();
session.post('HeapProfiler.enable');
session.post('HeapProfiler.startSampling', { samplingInterval: 1024, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true });
const gc = new GCProfiler();
gc.start();

let written = false;
function write(): void {
  if (written) return;
  written = true;
  writeFileSync(`${base}.gc.json`, JSON.stringify(gc.stop()));
  // The inspector answers synchronously within the session's own thread.
  session.post('HeapProfiler.stopSampling', (err, r) => {
    if (err === null) writeFileSync(`${base}.heapprofile`, JSON.stringify(r.profile));
  });
}
process.on('exit', write);
for (const sig of ['SIGTERM', 'SIGINT'] as const) process.prependListener(sig, write);
