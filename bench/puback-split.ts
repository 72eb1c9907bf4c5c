/**
 * Diagnostic: does Mosquitto acknowledge a client's own QoS 1 publishes slowly
 * while many QoS 1 deliveries to that same client are unacknowledged, and does
 * a second connection escape it? `node dist/bench/puback-split.js [--held 65000]
 * [--probe 2000] [--repeats 3] [--read all|none]`
 *
 * A Mosquitto on a free port (the fuzz harness's settings). Client A (MQTT 5,
 * receive maximum 65,535) subscribes QoS 1 to `in/#`; a flooder publishes
 * --held readings there, A takes them and acknowledges none (held, as the
 * service holds a reading's PUBACK until its result is acknowledged). Then,
 * alternating, --probe QoS 1 results published one window of 100 at a time on
 * A itself, and on B (its own connection, client id, session); per side the
 * PUBACK rate and the median / p99 publish-to-PUBACK latency. A collector
 * subscribed QoS 1 to `out/#` takes the results (as the fuzz harness does).
 * `--read none` has A stop reading its socket after the flood (the broker's
 * deliveries then queue in front of A's PUBACKs, as when the service falls
 * behind). A baseline with nothing held runs first.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Raw, freePort, sleep, pct } from './raw-mqtt5';

const { values: o } = parseArgs({
  options: {
    held: { type: 'string', default: '65000' },
    probe: { type: 'string', default: '2000' },
    window: { type: 'string', default: '100' },
    repeats: { type: 'string', default: '3' },
    read: { type: 'string', default: 'all' },
    backlog: { type: 'string', default: '0' },
    chain: { type: 'string', default: '0' },
    mosquitto: { type: 'string', default: 'mosquitto' },
  },
});

/** Publishes n results `window` at a time; returns rate per second and latencies in ms. */
async function probe(c: Raw, topic: string, n: number, window: number): Promise<{ rate: number; p50: number; p99: number }> {
  const lat: number[] = [];
  const t0 = performance.now();
  for (let done = 0; done < n; done += window) {
    const batch: Promise<void>[] = [];
    for (let i = 0; i < Math.min(window, n - done); i++) {
      const t = performance.now();
      batch.push(c.publish(topic, `{"r":${done + i}}`).then(() => { lat.push(performance.now() - t); }));
    }
    await Promise.all(batch);
  }
  const s = (performance.now() - t0) / 1000;
  return { rate: n / s, p50: pct(lat, 0.5), p99: pct(lat, 0.99) };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'puback-split-'));
  const port = await freePort();
  writeFileSync(join(dir, 'm.conf'), `listener ${port} 127.0.0.1\nallow_anonymous true\nmax_inflight_messages 1000\nmax_queued_messages 1000000\n`);
  const broker = spawn(o.mosquitto, ['-c', join(dir, 'm.conf')], { stdio: 'ignore' });
  try {
    for (let i = 0; i < 50; i++) {
      try { (await Raw.open(port, 'probe')).socket.destroy(); break; } catch { await sleep(100); }
    }
    const held = Number(o.held), n = Number(o.probe), window = Number(o.window), repeats = Number(o.repeats);
    const a = await Raw.open(port, 'A');
    const b = await Raw.open(port, 'B');
    const collector = await Raw.open(port, 'collector');
    await collector.subscribe('out/#');
    const flooder = await Raw.open(port, 'flooder');
    await a.subscribe('in/#');
    const rows: string[] = [];
    const run = async (label: string): Promise<void> => {
      for (let r = 0; r < repeats; r++) {
        for (const [name, c] of [['A (holds the readings)', a], ['B (second connection)', b]] as const) {
          const m = await probe(c, `out/${name[0]}`, n, window);
          rows.push(`| ${label} | ${r + 1} | ${name} | ${m.rate.toFixed(0)} | ${m.p50.toFixed(1)} | ${m.p99.toFixed(1)} |`);
          console.error(rows[rows.length - 1]);
        }
      }
    };
    await run('nothing held');
    a.ackIncoming = false;
    const t0 = performance.now();
    for (let sent = 0; sent < held; sent += 1000) {
      await Promise.all(Array.from({ length: Math.min(1000, held - sent) }, (_, i) => flooder.publish('in/x', `{"v":${sent + i}}`)));
    }
    while (a.received < Math.min(held, 65535)) await sleep(50);
    console.error(`flood: ${held} published, A took ${a.received}, holds ${a.held.length} PUBACKs (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
    const backlog = Number(o.backlog);
    for (let sent = 0; sent < backlog; sent += 1000) {
      await Promise.all(Array.from({ length: Math.min(1000, backlog - sent) }, (_, i) => flooder.publish('in/y', `{"q":${sent + i}}`)));
    }
    if (backlog) console.error(`backlog: ${backlog} more readings queued for A at the broker`);
    const chain = Number(o.chain);
    if (chain) {
      // As the service: per held reading a result, the reading's PUBACK sent when the result's comes; `window` results in flight.
      for (let r = 0; r < repeats; r++) {
        for (const [name, c] of [['A (holds the readings)', a], ['B (second connection)', b]] as const) {
          const t = performance.now();
          let done = 0;
          const lat: number[] = [];
          const worker = async (): Promise<void> => {
            while (done < chain) {
              while (a.held.length === 0) await sleep(1);
              const mid = a.held.shift()!;
              done++;
              const t1 = performance.now();
              await c.publish(`out/${name[0]}`, '{"r":1}');
              lat.push(performance.now() - t1);
              a.send({ cmd: 'puback', messageId: mid });
            }
          };
          await Promise.all(Array.from({ length: window }, worker));
          const s = (performance.now() - t) / 1000;
          rows.push(`| ${a.held.length} held + backlog, chained | ${r + 1} | ${name} | ${(chain / s).toFixed(0)} | ${pct(lat, 0.5).toFixed(1)} | ${pct(lat, 0.99).toFixed(1)} |`);
          console.error(rows[rows.length - 1]);
        }
      }
    } else if (o.read === 'none') {
      a.socket.pause();
      for (let sent = 0; sent < 20000; sent += 1000) {
        await Promise.all(Array.from({ length: 1000 }, (_, i) => flooder.publish('in/x', `{"w":${sent + i}}`)));
      }
      console.error('A stopped reading; 20,000 more readings queued for it');
      // A cannot see its PUBACKs while paused: probe B only, then A with a time limit.
      const m = await probe(b, 'out/B', n, window);
      rows.push(`| ${held} held, A not reading | 1 | B (second connection) | ${m.rate.toFixed(0)} | ${m.p50.toFixed(1)} | ${m.p99.toFixed(1)} |`);
    } else {
      await run(`${a.held.length} held`);
    }
    console.log('| readings to A | repeat | publisher | PUBACKs/s | p50 ms | p99 ms |\n|---|---|---|---|---|---|');
    console.log(rows.join('\n'));
    for (const c of [a, b, collector, flooder]) c.socket.destroy();
  } finally {
    broker.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => { console.error(e); process.exit(1); });
