import t from 'tap';
import { parseArgs } from '../../runtime/cli/args';
import type { EdgeLstmError } from '../../runtime/errors';
import { RUN_SPECS, resolveServiceConfig } from '../../runtime/service/config';
import { parseSparkplugTopic, sparkplugId } from '../../runtime/sparkplug/topic';
import { SparkplugHost } from '../../runtime/sparkplug/host';

const resolve = (args: string[]) => resolveServiceConfig(parseArgs(args, RUN_SPECS).values, {});
const field = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (e) {
    return (e as EdgeLstmError).details?.field;
  }
  return undefined;
};

t.test('options: defaults, the Sparkplug subscription, conflicts refused by name', async (t) => {
  const plain = resolve([]);
  t.equal(plain.payload, 'json');
  t.equal(plain.sparkplug, undefined);
  t.equal(plain.haDiscovery, undefined);
  const sp = resolve(['--payload', 'sparkplug', '--name', 'gw', '--sparkplug-metrics', 'temp=Sensors/Temp, pressure = P']);
  t.equal(sp.input.filter, 'spBv1.0/+/+/+/#');
  t.same([...sp.sparkplug!.metricMap], [['Sensors/Temp', 'temp'], ['P', 'pressure']]);
  t.equal(sp.sparkplug!.node, 'gw', 'edge node id defaults to --name');
  t.equal(sp.sparkplug!.results, false);
  t.equal(resolve(['--result-format', 'sparkplug']).sparkplug!.results, true);
  t.equal(resolve(['--ha-discovery', '--name', 'gw']).haDiscovery!.availabilityTopic, 'edgelstm/gw/availability');
  t.equal(field(() => resolve(['--payload', 'sparkplug', '--input', 'x/{device}'])), 'input');
  t.equal(field(() => resolve(['--ha-discovery', '--result-format', 'sparkplug'])), 'ha-discovery', 'one will per connection');
  t.equal(field(() => resolve(['--payload', 'sparkplug', '--sparkplug-metrics', 'temp'])), 'sparkplug-metrics');
  t.equal(field(() => resolve(['--result-format', 'sparkplug', '--sparkplug-group', 'a/b'])), 'sparkplug-group');
  t.equal(field(() => resolve(['--ha-discovery', '--ha-prefix', 'home/#'])), 'ha-prefix');
  t.equal(field(() => new SparkplugHost({ features: ['temp'], metricMap: new Map([['M', 'nope']]), maxBytes: 100, rebirthIntervalMs: 0, requestRebirth: () => undefined })), 'sparkplug-metrics');
});

t.test('topics: parsed by level, refused with the level named', async (t) => {
  t.same(parseSparkplugTopic('spBv1.0/G/DDATA/E/D'), { group: 'G', type: 'DDATA', edge: 'E', device: 'D' });
  t.same(parseSparkplugTopic('spBv1.0/G/NBIRTH/E'), { group: 'G', type: 'NBIRTH', edge: 'E' });
  for (const [topic, f] of [['spBv2.0/G/DDATA/E/D', 'namespace'], ['spBv1.0/G/DATA/E/D', 'message_type'], ['spBv1.0/G/DDATA/E', 'topic'], ['spBv1.0/G/NDATA/E/D', 'topic'], ['spBv1.0//NDATA/E', 'topic']] as const) {
    t.equal(field(() => parseSparkplugTopic(topic)), f, topic);
  }
  t.equal(sparkplugId('a/b+c#d'), 'a_b_c_d');
});

t.test('births beyond the limits are refused and counted; known nodes and devices are born again', async (t) => {
  const { get } = await import('sparkplug-payload');
  const tahu = get('spBv1.0')!;
  const enc = (seq: number): Buffer => Buffer.from(tahu.encodePayload({ timestamp: 1, seq, metrics: [{ name: 'temp', type: 'Double', value: 1 }] }));
  const host = new SparkplugHost({ features: ['temp'], maxBytes: 1000, rebirthIntervalMs: 0, requestRebirth: () => undefined, maxNodes: 2, maxDevicesPerNode: 1 });
  host.ingest('spBv1.0/G/NBIRTH/A', enc(0));
  host.ingest('spBv1.0/G/NBIRTH/B', enc(0));
  t.equal(field(() => host.ingest('spBv1.0/G/NBIRTH/C', enc(0))), 'birth', 'a third edge node');
  host.ingest('spBv1.0/G/NBIRTH/A', enc(0)); // a known node: its rebirth is taken
  host.ingest('spBv1.0/G/DBIRTH/A/d1', enc(1));
  t.equal(field(() => host.ingest('spBv1.0/G/DBIRTH/A/d2', enc(2))), 'birth', 'a second device');
  host.ingest('spBv1.0/G/DBIRTH/A/d1', enc(3));
  t.same(host.ingest('spBv1.0/G/DDATA/A/d1', enc(4)).map((s) => s.values), [[1]]);
  t.equal(host.counts.get('over_limit'), 2);
  t.equal(host.counts.get('birth'), 5);
  t.notOk(host.online('G', 'C'));
});

t.test('without the optional sparkplug-payload, the codec says how to install it (and nothing else needs it)', async (t) => {
  const { execFileSync } = await import('node:child_process');
  const { join } = await import('node:path');
  // A child process in which the package cannot be resolved, as in a default install.
  const script = `
    const Module = require('module');
    const resolve = Module._resolveFilename;
    Module._resolveFilename = function (request, ...rest) {
      if (request === 'sparkplug-payload') { const e = new Error("Cannot find module 'sparkplug-payload'"); e.code = 'MODULE_NOT_FOUND'; throw e; }
      return resolve.call(this, request, ...rest);
    };
    require(${JSON.stringify(join(__dirname, '../../dist/runtime/index.js'))});
    const { codec } = require(${JSON.stringify(join(__dirname, '../../dist/runtime/sparkplug/codec.js'))});
    try { codec(); console.log('loaded'); } catch (e) { console.log(e.code + ': ' + e.message); }
  `;
  const out = execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  t.match(out, /^E_CONFIG: Sparkplug B needs the sparkplug-payload package next to edgelstm: npm install sparkplug-payload@1\.0\.3/, 'the public API loads; the codec names the install command');
});
