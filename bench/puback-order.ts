/**
 * Diagnostic: what a QoS 1 subscriber's acknowledgement order costs Mosquitto
 * 2.0.11, and whether results on a second connection escape it.
 * `node dist/bench/puback-order.js [--readings 100000] [--valid-every 4] [--window 1000] [--repeats 1]`
 *
 * As the service under the fuzz flood: a flooder publishes --readings QoS 1
 * readings to `in/x`; client A (MQTT 5, receive maximum 65,535) takes them;
 * one in --valid-every is "valid": a result is published for it (QoS 1, at
 * most --window unacknowledged) and the reading's PUBACK is held until the
 * result's PUBACK came; the others are "invalid", done at once. Four
 * configurations, each on a fresh broker:
 * - results on A or on B (a second connection, own client id and session);
 * - PUBACKs released as readings finish (`any`: the service's order now) or
 *   strictly in arrival order (`fifo`: an invalid reading's PUBACK waits for
 *   every earlier reading's).
 * A steps the readings it took at --rate a second (the service is slower
 * than the flood). Reports the time until every result and reading was acknowledged, the
 * broker's CPU seconds, and the most deliveries A held unacknowledged at once
 * (above 65,535: the broker exceeded the receive maximum).
 *
 * Measured (100,000 readings, A at 3,000/s): all four drain at A's pace with
 * ~2.5 s of broker CPU. Here a valid reading is answered within --window, so
 * few wait at the head of the broker's in-flight list; under the fuzz flood
 * thousands did, and Mosquitto's PUBACK lookup (a walk of that list from its
 * oldest message) took ~90% of its CPU until the service acknowledged in
 * delivery order (runtime/service/ack-holds.ts).
 */
import { parseArgs } from 'node:util';
import { Raw, sleep, startMosquitto } from './raw-mqtt5';

const { values: o } = parseArgs({
  options: {
    readings: { type: 'string', default: '100000' },
    'valid-every': { type: 'string', default: '4' },
    window: { type: 'string', default: '1000' },
    repeats: { type: 'string', default: '1' },
    'time-limit': { type: 'string', default: '300' },
    rate: { type: 'string', default: '3000' },
  },
});

async function scenario(results: 'A' | 'B', order: 'any' | 'fifo'): Promise<string> {
  const n = Number(o.readings), every = Number(o['valid-every']), window = Number(o.window), limit = Number(o['time-limit']) * 1000;
  const broker = await startMosquitto();
  try {
    const a = await Raw.open(broker.port, 'A');
    const b = await Raw.open(broker.port, 'B');
    const collector = await Raw.open(broker.port, 'collector');
    await collector.subscribe('out/#');
    const flooder = await Raw.open(broker.port, 'flooder');
    await a.subscribe('in/#');
    const pub = results === 'A' ? a : b;
    let seen = 0, acked = 0, unacked = 0, maxUnacked = 0, inFlight = 0, resultsDone = 0;
    const todo: number[] = [];
    // fifo: arrival order of message ids and whether each is done.
    const fifo: { mid: number; done: boolean }[] = [];
    let head = 0;
    const release = (entry: { mid: number; done: boolean }): void => {
      entry.done = true;
      if (order === 'any') { a.send({ cmd: 'puback', messageId: entry.mid }); acked++; unacked--; return; }
      while (head < fifo.length && fifo[head]!.done) { a.send({ cmd: 'puback', messageId: fifo[head]!.mid }); head++; acked++; unacked--; }
      if (head > 65536) { fifo.splice(0, head); head = 0; }
    };
    const entries: { mid: number; done: boolean }[] = [];
    const pump = (): void => {
      while (inFlight < window && todo.length > 0) {
        const e = entries[todo.shift()!]!;
        inFlight++;
        void pub.publish('out/r', '{"r":1}').then(() => { inFlight--; resultsDone++; release(e); pump(); });
      }
    };
    // A steps readings at --rate a second (the service under the flood is slower than the broker).
    const arrived: { mid: number; done: boolean }[] = [];
    let next = 0;
    a.onDelivery = (mid) => {
      const e = { mid, done: false };
      fifo.push(e);
      arrived.push(e);
      unacked++;
      if (unacked > maxUnacked) maxUnacked = unacked;
    };
    const perTick = Math.max(1, Math.round(Number(o.rate) / 100));
    const stepper = setInterval(() => {
      for (let i = 0; i < perTick && next < arrived.length; i++) {
        const e = arrived[next++]!;
        if (seen++ % every === 0) { entries.push(e); todo.push(entries.length - 1); } else release(e);
      }
      if (next > 65536) { arrived.splice(0, next); next = 0; }
      pump();
    }, 10);
    const cpu0 = broker.cpuSeconds();
    const t0 = performance.now();
    for (let sent = 0; sent < n; sent += 1000) {
      await Promise.all(Array.from({ length: Math.min(1000, n - sent) }, (_, i) => flooder.publish('in/x', `{"v":${sent + i}}`)));
    }
    const sendS = (performance.now() - t0) / 1000;
    const valid = Math.ceil(n / every);
    while ((resultsDone < valid || acked < n) && performance.now() - t0 < limit) await sleep(50);
    const s = (performance.now() - t0) / 1000;
    clearInterval(stepper);
    for (const c of [a, b, collector, flooder]) c.socket.destroy();
    return `| ${results} | ${order} | ${sendS.toFixed(1)} | ${s.toFixed(1)}${acked < n ? ' (stopped)' : ''} | ${resultsDone} / ${valid} | ${acked} / ${n} | ${(broker.cpuSeconds() - cpu0).toFixed(1)} | ${maxUnacked} |`;
  } finally {
    broker.stop();
  }
}

async function main(): Promise<void> {
  const rows: string[] = [];
  for (let r = 0; r < Number(o.repeats); r++) {
    for (const order of ['any', 'fifo'] as const) {
      for (const results of ['A', 'B'] as const) {
        rows.push(await scenario(results, order));
        console.error(rows[rows.length - 1]);
      }
    }
  }
  console.log('| results on | PUBACK order | flood s | all acknowledged s | results acked | readings acked | broker CPU s | most held by A |\n|---|---|---|---|---|---|---|---|');
  console.log(rows.join('\n'));
}

main().catch((e) => { console.error(e); process.exit(1); });
