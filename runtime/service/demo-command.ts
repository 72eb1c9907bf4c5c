import mqtt from 'mqtt';
import type { OptionSpecs } from '../cli/args';
import { defineCommand } from '../cli/command';
import type { Result } from '../engine/sample';
import { compileTopicTemplate } from './topic-template';

const SPECS = {
  broker: { type: 'string', description: 'broker the service listens on', default: 'mqtt://127.0.0.1:1883', placeholder: 'URL' },
  input: { type: 'string', description: 'the service\'s --input template', default: 'sensors/{device}/telemetry', placeholder: 'TEMPLATE' },
  'anomaly-topic': { type: 'string', description: 'where the service publishes anomalies (a filter)', default: 'edgelstm/+/anomaly' },
  devices: { type: 'number', integer: true, min: 1, max: 100000, description: 'simulated devices', default: 20 },
  'rate-hz': { type: 'number', min: 0.1, max: 1000, description: 'readings per device per second', default: 20 },
  seconds: { type: 'number', min: 1, description: 'how long the fleet runs', default: 30 },
  anomalies: { type: 'number', integer: true, min: 0, description: 'anomalies injected, after the devices\' warm-up', default: 10 },
  'warmup-readings': { type: 'number', integer: true, min: 0, description: 'readings before the first injection (the service\'s --warmup plus margin)', default: 200 },
  'catch-window': { type: 'number', integer: true, min: 1, description: 'readings after an injection in which a detection counts as caught', default: 10 },
  seed: { type: 'number', integer: true, description: 'random seed', default: 1 },
} satisfies OptionSpecs;

interface Injection {
  device: number;
  at: number;
  caught: boolean;
}

/** Deterministic, so a demo run can be repeated. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

/** `edgelstm demo`: a simulated fleet with injected anomalies against a running `edgelstm run`. */
export const main = defineCommand({ usage: 'edgelstm demo [--broker URL] [--devices N] [--seconds S]', options: SPECS }, async (o) => {
  const input = compileTopicTemplate(o.input, 'input');
  const rand = rng(o.seed);
  const steps = Math.round(o.seconds * o['rate-hz']);
  if (o['warmup-readings'] + 20 >= steps && o.anomalies > 0) throw new RangeError(`--seconds ${o.seconds} at --rate-hz ${o['rate-hz']} leaves no time after the warm-up of ${o['warmup-readings']} readings`);
  // Injections: a spike, a level shift or a stuck sensor, spread over the time after warm-up.
  const injections: Injection[] = Array.from({ length: o.anomalies }, () => ({
    device: Math.floor(rand() * o.devices),
    at: o['warmup-readings'] + Math.floor(rand() * (steps - o['warmup-readings'] - 10)),
    caught: false,
  }));
  const kinds = ['spike', 'shift', 'stuck'] as const;
  const phase = Array.from({ length: o.devices }, () => rand() * 6.28);
  const period = Array.from({ length: o.devices }, () => 20 + rand() * 60);
  const client = await mqtt.connectAsync(o.broker, { clientId: `edgelstm-demo-${process.pid}` });
  const t0 = Date.now();
  const stepMs = 1000 / o['rate-hz'];
  const tsOf = (i: number): number => t0 + Math.round(i * stepMs);
  let alarms = 0;
  let falseAlarms = 0;
  client.on('message', (_topic, payload) => {
    const r = JSON.parse(payload.toString()) as Result;
    const step = Math.round((r.ts - t0) / stepMs);
    const d = Number(/(\d+)$/.exec(r.device)?.[1] ?? -1);
    const hit = injections.find((x) => x.device === d && step >= x.at && step < x.at + o['catch-window']);
    alarms++;
    if (hit) hit.caught = true;
    else falseAlarms++;
    process.stdout.write(`${hit ? 'CAUGHT ' : 'ALARM  '} ${r.device} step ${step} value ${r.values.map((v) => v.toFixed(2)).join(',')} expected ${r.expected?.map((v) => v.toFixed(2)).join(',') ?? '-'} likelihood ${r.likelihood?.toFixed(5)}\n`);
  });
  await client.subscribeAsync(o['anomaly-topic'], { qos: 1 });
  process.stdout.write(`demo: ${o.devices} devices x ${steps} readings at ${o['rate-hz']} Hz to ${o.broker}, ${o.anomalies} anomalies injected after reading ${o['warmup-readings']}\n`);
  const stuck = new Map<number, number>();
  for (let i = 0; i < steps; i++) {
    for (let d = 0; d < o.devices; d++) {
      let v = 20 + 5 * Math.sin((2 * Math.PI * i) / period[d]! + phase[d]!) + (rand() - 0.5) * 0.4;
      const inj = injections.findIndex((x) => x.device === d && i >= x.at && i < x.at + 5);
      if (inj >= 0) {
        const kind = kinds[inj % 3]!;
        if (kind === 'spike' && i === injections[inj]!.at) v += 15;
        else if (kind === 'shift') v += 10;
        else if (kind === 'stuck') v = stuck.get(d) ?? (stuck.set(d, v + 8), v + 8);
      } else stuck.delete(d);
      client.publish(input.fill({ device: `dev-${d}`, feature: 'value' }), JSON.stringify({ ts: tsOf(i), value: v }), { qos: 1 });
    }
    const wait = t0 + (i + 1) * stepMs - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  await new Promise((r) => setTimeout(r, 2000)); // late results
  await client.endAsync();
  const caught = injections.filter((x) => x.caught).length;
  process.stdout.write(`\ndemo summary: ${caught} of ${injections.length} injected anomalies caught, ${falseAlarms} false alarms (${alarms} alarms over ${steps * o.devices} readings)\n`);
  return 0;
});
