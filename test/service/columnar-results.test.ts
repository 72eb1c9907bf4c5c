// Without a hook that needs Result objects (the default, and --view=false) the service writes results from the
// engine's columns: the payloads on the result and anomaly topics must be the bytes of JSON.stringify of the
// engine's own Result (what the Result path publishes).
import t from 'tap';
import { Engine } from '../../runtime/engine/engine';
import { loadModel } from '../../runtime/model/load-model';
import { tempDir, writeTestModel } from '../helpers/models';
import { client, startService, until } from './helpers';

const dir = tempDir('edgelstm-columnar-');
const modelPath = writeTestModel(dir, { normalization: { mode: 'per-device', window: 100, minStd: 1e-3 } });

interface Reading {
  device: string;
  ts: number;
  v: number;
}

function readings(): Reading[] {
  const out: Reading[] = [];
  for (let i = 0; i < 60; i++) {
    for (let d = 0; d < 5; d++) {
      const spike = d < 2 && i >= 40 && i <= 44 ? 400 : 0;
      out.push({ device: d === 4 ? 'dévïce-☃' : `dev-${d}`, ts: 1_700_000_000_000 + i * 1000, v: Math.sin(i / 5 + d) * 10 + 20 + spike });
    }
  }
  return out;
}

/** Every payload the service publishes for `rs`, by topic kind and device@ts, as the bytes received. */
async function run(args: string[], rs: Reading[]): Promise<Map<string, string>> {
  const svc = await startService(modelPath, ['--max-delay-ms', '1', '--threshold', '0.5', '--warmup', '10', ...args]);
  const c = await client(svc.brokerUrl);
  const got = new Map<string, string>();
  c.on('message', (topic, payload) => {
    const text = payload.toString('utf8');
    const r = JSON.parse(text) as { device: string; ts: number };
    got.set(`${topic.endsWith('/anomaly') ? 'anomaly' : 'result'} ${r.device}@${r.ts}`, text);
  });
  await c.subscribeAsync(['edgelstm/+/result', 'edgelstm/+/anomaly'], { qos: 1 });
  for (const r of rs) await c.publishAsync(`sensors/${r.device}/telemetry`, JSON.stringify({ ts: r.ts, value: r.v }), { qos: 1 });
  await until(() => [...got.keys()].filter((k) => k.startsWith('result ')).length >= rs.length, 30_000, 'results');
  await new Promise((r) => setTimeout(r, 200)); // anomaly messages after their results
  await c.endAsync();
  await svc.stop();
  return got;
}

t.test('results written from the columns are byte-identical to JSON.stringify of the engine\'s Results', async (t) => {
  const rs = readings();
  const model = await loadModel(modelPath, { backend: 'native' });
  const e = new Engine(model, { threshold: 0.5, warmup: 10 });
  const ref = await Promise.all(rs.map((r) => e.push({ device: r.device, ts: r.ts, values: [r.v] })));
  await e.close();
  await model.release();
  const want = new Map<string, string>();
  for (const r of ref) {
    want.set(`result ${r.device}@${r.ts}`, JSON.stringify(r));
    if (r.episode !== null && r.episode.state !== 'active') want.set(`anomaly ${r.device}@${r.ts}`, JSON.stringify(r));
  }
  const events = [...want.keys()].filter((k) => k.startsWith('anomaly ')).length;
  t.ok(events >= 2, `the readings open and close episodes: ${events} anomaly messages expected`);
  for (const args of [['--view=false'], []]) {
    const got = await run(args, rs);
    const label = args.length > 0 ? 'no hook (--view=false)' : 'the live view on (it reads the rows too)';
    t.same([...got.keys()].sort(), [...want.keys()].sort(), `${label}: one result per reading, the episode events on the anomaly topic`);
    let differ = 0;
    let first = '';
    for (const [k, text] of want) {
      if (got.get(k) === text) continue;
      differ++;
      first ||= `${k}: ${got.get(k)} vs ${text}`;
    }
    t.equal(differ, 0, first || `${label}: every payload byte-identical`);
  }
});
