import t from 'tap';
import { anomalyFlow, helper, modelConfig, NODES, predictFlow, series, Sink, warningsOf, type Msg } from './flow-helpers';

interface R {
  device: string;
  expected: number[] | null;
  forecast: number[];
}
const p = (m: Msg): R => m.payload as R;

t.afterEach(() => helper.unload());

t.test('forecasts horizon steps; a neighbour with another horizon does not change the output', async (t) => {
  await helper.load(NODES, [modelConfig('m'), ...predictFlow('p3', 'm', { horizon: 3 }), ...predictFlow('p1', 'm'), ...anomalyFlow('a', 'm')]);
  const out3 = new Sink(helper.getNode('p3-out'));
  const out1 = new Sink(helper.getNode('p1-out'));
  const outA = new Sink(helper.getNode('a-all'));
  for (const x of series(8)) {
    for (const id of ['p3', 'p1', 'a']) helper.getNode(id).receive({ topic: 'dev', payload: x });
    const [r3, r1, ra] = [p(await out3.next()), p(await out1.next()), p(await outA.next())];
    t.equal(r3.forecast.length, 3);
    t.equal(r1.forecast.length, 1);
    t.equal(ra.forecast.length, 1);
    t.equal(r3.forecast[0], r1.forecast[0], 'step 1 is the same forecast');
    t.equal(r1.forecast[0], ra.forecast[0]);
  }
  // The rolled-out steps differ from repeating step 1 (they feed each forecast back in).
  const last = p(out3.messages.at(-1)!);
  t.not(last.forecast[2], last.forecast[0]);
});

t.test('"forecast only" output puts the forecast in msg.payload', async (t) => {
  await helper.load(NODES, [modelConfig('m'), ...predictFlow('p', 'm', { output: 'forecast' }), ...predictFlow('q', 'm', { output: 'forecast', horizon: 4 })]);
  const out = new Sink(helper.getNode('p-out'));
  const outQ = new Sink(helper.getNode('q-out'));
  helper.getNode('p').receive({ topic: 'd', payload: 3 });
  helper.getNode('q').receive({ topic: 'd', payload: 3, ts: 1 });
  const m = await out.next();
  t.type(m.payload, 'number', 'one target, one step: a number for charts');
  t.equal(m['device'], 'd');
  t.type(m['ts'], 'number');
  const q = await outQ.next();
  t.ok(Array.isArray(q.payload) && (q.payload as number[]).length === 4);
});

t.test('a horizon that is not an integer from 1 to 1000 warns and uses 1', async (t) => {
  await helper.load(NODES, [modelConfig('m'), ...predictFlow('p', 'm', { horizon: 'soon' })]);
  t.match(warningsOf('edgelstm-predict'), [/horizon: expected an integer from 1 to 1000, found "soon"; using 1/]);
  const out = new Sink(helper.getNode('p-out'));
  helper.getNode('p').receive({ topic: 'd', payload: 1 });
  t.equal(p(await out.next()).forecast.length, 1);
});

t.test('a GRU exported with batch_first=True serves in Node-RED: the numbers PyTorch gives, devices batched together', async (t) => {
  const { copyFileSync, readFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { tempDir } = await import('../helpers/models');
  const fixtures = join(__dirname, '..', 'fixtures', 'exports');
  const dir = tempDir();
  // The sidecar manifest beside the file, as a user keeps it.
  copyFileSync(join(fixtures, 'gru-batch-first-opset11.onnx'), join(dir, 'gru.onnx'));
  copyFileSync(join(fixtures, 'gru-batch-first-opset11.json'), join(dir, 'gru.json'));
  const e = JSON.parse(readFileSync(join(fixtures, 'gru-batch-first-opset11.expected.json'), 'utf8')) as { stream: { seq: number; batch: number; x: number[]; y: number[] } };
  const m = JSON.parse(readFileSync(join(dir, 'gru.json'), 'utf8')) as { 'edgelstm.normalization': { mean: number[]; std: number[] } };
  const { mean, std } = m['edgelstm.normalization'];
  await helper.load(NODES, [modelConfig('m', { source: 'file', path: join(dir, 'gru.onnx'), maxDelay: 20 }), ...predictFlow('p', 'm')]);
  const out = new Sink(helper.getNode('p-out'));
  let worst = 0;
  for (let s = 0; s < e.stream.seq; s++) {
    for (let b = 0; b < 3; b++) {
      const values = [0, 1].map((f) => mean[f]! + e.stream.x[(s * 3 + b) * 2 + f]! * std[f]!);
      helper.getNode('p').receive({ topic: `d${b}`, payload: values });
    }
    for (let k = 0; k < 3; k++) {
      const r = p(await out.next());
      const b = Number(r.device.slice(1));
      worst = Math.max(worst, Math.abs((r.forecast[0]! - mean[0]!) / std[0]! - e.stream.y[s * 3 + b]!));
    }
  }
  t.ok(worst < 1e-5, `worst normalized difference ${worst.toExponential(2)}`);
});
