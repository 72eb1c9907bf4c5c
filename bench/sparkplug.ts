/**
 * Sparkplug B decode + map beside JSON: `npm run bench:sparkplug [-- --messages 200000 --repeats 3 --devices 1000]`.
 *
 * CPU per message (process.cpuUsage, one thread) of what the service does
 * between a message's arrival and its samples: the JSON path (topic
 * template match + readSamples) and the Sparkplug path (SparkplugHost.ingest:
 * topic, Tahu protobuf decode, sequence check, metric names or aliases to
 * features, report by exception). The same readings in every format: two
 * features; the Sparkplug DDATA also carry one unmapped String metric, as
 * real edge nodes do. Medians of --repeats runs, interleaved, so the ratio
 * compares runs of the same moment.
 */
import { get } from 'sparkplug-payload';
import type { UMetric } from 'sparkplug-payload/lib/sparkplugbpayload';
import { parseArgs, type OptionSpecs } from '../runtime/cli/args';
import { EdgeLstmError } from '../runtime/errors';
import { readSamples } from '../runtime/reading/samples';
import { compileTopicTemplate } from '../runtime/service/topic-template';
import { SparkplugHost } from '../runtime/sparkplug/host';

const SPECS = {
  messages: { type: 'number', integer: true, min: 1000, description: 'messages per run', default: 200_000 },
  repeats: { type: 'number', integer: true, min: 1, description: 'runs per format (median reported)', default: 3 },
  devices: { type: 'number', integer: true, min: 1, max: 100_000, description: 'devices (Sparkplug: of one edge node)', default: 1000 },
} satisfies OptionSpecs;

const tahu = get('spBv1.0')!;
const FEATURES = ['temp', 'pressure'];
const TS0 = 1_760_000_000_000;

interface Format {
  name: string;
  /** Decodes message n (cycling through the prepared ones); returns the samples' count. */
  run(n: number): number;
}

function jsonFormat(devices: number, N: number): Format {
  const tpl = compileTopicTemplate('sensors/{device}/telemetry');
  const topics = Array.from({ length: devices }, (_, d) => `sensors/pump-${d}/telemetry`);
  const payloads = Array.from({ length: N }, (_, n) => Buffer.from(JSON.stringify({ ts: TS0 + n * 1000, temp: 20 + (n % 17) * 0.1, pressure: 1 + (n % 13) * 0.01 })));
  const missing = (): EdgeLstmError => new EdgeLstmError('E_PAYLOAD', 'no device');
  return {
    name: 'JSON object (topic match + readSamples)',
    run(n) {
      const i = n % N;
      const params = tpl.match(topics[i % devices]!)!;
      return readSamples(payloads[i]!, { features: FEATURES, deviceField: 'device', maxBytes: 65536, device: { id: params['device'], missing } }).length;
    },
  };
}

function sparkplugFormat(devices: number, N: number, byAlias: boolean): Format {
  const host = new SparkplugHost({ features: FEATURES, maxBytes: 65536, rebirthIntervalMs: 5000, requestRebirth: () => undefined });
  let seq = 0;
  const enc = (metrics: UMetric[], s?: number): Buffer => Buffer.from(tahu.encodePayload({ timestamp: TS0, metrics, ...(s !== undefined ? { seq: s } : {}) }));
  host.ingest('spBv1.0/G/NBIRTH/E', enc([{ name: 'bdSeq', type: 'Int64', value: 0 }], 0));
  for (let d = 0; d < devices; d++) {
    seq = (seq + 1) & 255;
    host.ingest(`spBv1.0/G/DBIRTH/E/pump-${d}`, enc([
      { name: 'temp', alias: 1, type: 'Double', value: 20 } as UMetric,
      { name: 'pressure', alias: 2, type: 'Float', value: 1 } as UMetric,
      { name: 'Status', alias: 3, type: 'String', value: 'running' } as UMetric,
    ], seq));
  }
  const topics = Array.from({ length: devices }, (_, d) => `spBv1.0/G/DDATA/E/pump-${d}`);
  // N is a multiple of 256, so cycling the prepared messages keeps the sequence numbers in order.
  const payloads = Array.from({ length: N }, (_, n) => {
    const ts = TS0 + n * 1000;
    const m = (name: string, alias: number, type: string, value: number | string): UMetric => (byAlias ? { alias, type, value, timestamp: ts } : { name, type, value, timestamp: ts }) as UMetric;
    return enc([m('temp', 1, 'Double', 20 + (n % 17) * 0.1), m('pressure', 2, 'Float', 1 + (n % 13) * 0.01), m('Status', 3, 'String', 'running')], (seq + 1 + n) & 255);
  });
  return {
    name: `Sparkplug B DDATA, metrics by ${byAlias ? 'alias' : 'name'} (SparkplugHost.ingest)`,
    run(n) {
      const i = n % N;
      return host.ingest(topics[i % devices]!, payloads[i]!, TS0).length;
    },
  };
}

function measure(f: Format, messages: number): number {
  for (let n = 0; n < 2000; n++) f.run(n); // warm-up
  const c0 = process.cpuUsage();
  let samples = 0;
  for (let n = 0; n < messages; n++) samples += f.run(n);
  const c = process.cpuUsage(c0);
  if (samples !== messages) throw new Error(`${f.name}: ${samples} samples from ${messages} messages`);
  return (c.user + c.system) / messages;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function main(): void {
  const { values: o } = parseArgs(process.argv.slice(2), SPECS);
  const N = 256 * 40;
  const formats = [jsonFormat(o.devices, N), sparkplugFormat(o.devices, N, false), sparkplugFormat(o.devices, N, true)];
  const runs: number[][] = formats.map(() => []);
  for (let r = 0; r < o.repeats; r++) formats.forEach((f, i) => runs[i]!.push(measure(f, o.messages)));
  const json = median(runs[0]!);
  process.stdout.write(`decode + map, CPU µs per message (median of ${o.repeats} runs of ${o.messages} messages, ${o.devices} devices, node ${process.version})\n\n`);
  process.stdout.write('| payload | µs/msg | x JSON | runs |\n|---|---:|---:|---|\n');
  formats.forEach((f, i) => {
    const m = median(runs[i]!);
    process.stdout.write(`| ${f.name} | ${m.toFixed(2)} | ${(m / json).toFixed(2)} | ${runs[i]!.map((x) => x.toFixed(2)).join(', ')} |\n`);
  });
}

main();
