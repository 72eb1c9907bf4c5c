import t from 'tap';
import type { Result } from '../../runtime/engine/sample';
import { anomalyFlow, ErrorLog, helper, modelConfig, NODES, series, Sink, type Msg } from './flow-helpers';

/** Node-RED's msg.payload out is the engine's result, DESIGN.md section 4. */
type ResultPayload = Result;
const payloadOf = (m: Msg): ResultPayload => m.payload as ResultPayload;

t.afterEach(() => helper.unload());

t.test('scores readings per device; output 1 gets every result with the result shape', async (t) => {
  await helper.load(NODES, [modelConfig('m'), ...anomalyFlow('a', 'm')]);
  const a = helper.getNode('a');
  const all = new Sink(helper.getNode('a-all'));
  const anomalies = new Sink(helper.getNode('a-anomalies'));
  a.receive({ topic: 'pump-1', payload: 21.5, extra: 'kept' });
  const first = await all.next();
  t.equal(first.topic, 'pump-1');
  t.equal(first['extra'], 'kept', 'the message passes through');
  const r = payloadOf(first);
  t.equal(r.device, 'pump-1');
  t.same(r.values, [21.5]);
  t.equal(r.expected, null, 'no forecast before the first reading');
  t.equal(r.model, 'generic@1.1.0');
  t.equal(r.forecast.length, 1);
  // The accepted payload forms (number, numeric text, JSON, array, object by feature name).
  for (const payload of ['22', '{"value": 22.5}', [23], { value: 23.5 }, Buffer.from('24')]) {
    a.receive({ topic: 'pump-1', payload });
    const m = payloadOf(await all.next());
    t.not(m.expected, null, `pump-1 carries its state (${JSON.stringify(payload)})`);
    t.type(m.score, 'number');
  }
  a.receive({ topic: 'pump-2', payload: 5 });
  t.equal(payloadOf(await all.next()).expected, null, 'pump-2 has its own, fresh state');
  t.equal(anomalies.messages.length, 0, 'normal sensitivity raises nothing on a smooth start');
});

t.test('output 2 carries episode events only (one start per episode), decided by the node threshold', async (t) => {
  // warm-up 4 and a custom threshold of 0: every reading past the warm-up is an anomaly.
  await helper.load(NODES, [modelConfig('m'), ...anomalyFlow('a', 'm', { sensitivity: 'custom', threshold: 0 }), ...anomalyFlow('b', 'm', { sensitivity: 'low' })]);
  const all = new Sink(helper.getNode('a-all'));
  const anomalies = new Sink(helper.getNode('a-anomalies'));
  const bAnomalies = new Sink(helper.getNode('b-anomalies'));
  const bAll = new Sink(helper.getNode('b-all'));
  const xs = series(12);
  for (const x of xs) {
    helper.getNode('a').receive({ topic: 'd', payload: x });
    helper.getNode('b').receive({ topic: 'd', payload: x });
  }
  const results: ResultPayload[] = [];
  for (let i = 0; i < xs.length; i++) results.push(payloadOf(await all.next()));
  for (let i = 0; i < xs.length; i++) await bAll.next();
  const flagged = results.filter((r) => r.anomaly);
  t.ok(flagged.length >= 6, `readings after the warm-up are flagged (${flagged.length})`);
  t.ok(results.slice(0, 4).every((r) => !r.anomaly && r.warmup), 'none during the warm-up');
  t.equal(anomalies.messages.length, 1, 'output 2 gets one message: the episode start, not one per anomalous reading');
  const ep = payloadOf(anomalies.messages[0]!).episode;
  t.equal(ep?.state, 'start');
  t.equal(ep?.readings, 1);
  t.equal(bAnomalies.messages.length, 0, 'a node with low sensitivity on the same model flags none of these');
});

t.test('a bad message goes to done(err), names the field, and changes no state', async (t) => {
  await helper.load(NODES, [modelConfig('m'), ...anomalyFlow('a', 'm'), ...anomalyFlow('ref', 'm')]);
  const a = helper.getNode('a');
  const ref = helper.getNode('ref');
  const all = new Sink(helper.getNode('a-all'));
  const refAll = new Sink(helper.getNode('ref-all'));
  const errors = new ErrorLog(a);
  const bad: [Msg, RegExp][] = [
    [{ topic: 'p', payload: 'abc' }, /neither a number nor valid JSON/],
    [{ topic: 'p', payload: NaN }, /values\[0\] \(value\).*finite number/],
    [{ topic: 'p', payload: [1, 2] }, /wrong number of values.*expected 1 \(value\)/],
    [{ topic: 'p', payload: { temp: 3 } }, /unknown field "temp"/],
    [{ payload: 3 }, /no device id in msg.topic/],
    [{ topic: 'p', payload: null }, /msg.payload has no reading/],
    [{ reset: true }, /msg.reset names no device|errors.reset/],
  ];
  const xs = series(6);
  for (let i = 0; i < xs.length; i++) {
    a.receive({ topic: 'p', payload: xs[i] });
    ref.receive({ topic: 'p', payload: xs[i] });
    if (i === 2) {
      for (const [msg, re] of bad) {
        const err = errors.next();
        a.receive(msg);
        t.match((await err).message, re, JSON.stringify(msg.payload ?? msg.reset));
      }
    }
  }
  for (let i = 0; i < xs.length; i++) {
    const got = payloadOf(await all.next());
    const want = payloadOf(await refAll.next());
    t.same({ e: got.expected, s: got.score, f: got.forecast }, { e: want.expected, s: want.score, f: want.forecast }, `reading ${i} as if the bad messages never came`);
  }
  t.equal(all.messages.length, xs.length, 'nothing sent for bad messages');
  t.equal(errors.errors.length, bad.length);
});

t.test('msg.reset forgets one device or all of this node, nobody else', async (t) => {
  await helper.load(NODES, [modelConfig('m'), ...anomalyFlow('a', 'm'), ...anomalyFlow('other', 'm')]);
  const a = helper.getNode('a');
  const other = helper.getNode('other');
  const all = new Sink(helper.getNode('a-all'));
  const otherAll = new Sink(helper.getNode('other-all'));
  const feed = async (device: string): Promise<ResultPayload> => {
    a.receive({ topic: device, payload: 20 });
    return payloadOf(await all.next());
  };
  for (const d of ['x', 'y', 'x', 'y']) await feed(d);
  other.receive({ topic: 'x', payload: 20 });
  await otherAll.next();
  const done = new Promise((resolve) => a.once('call:log', resolve));
  a.receive({ topic: 'x', reset: true });
  await done;
  t.equal((await feed('x')).expected, null, 'x starts afresh');
  t.not((await feed('y')).expected, null, 'y keeps its state');
  other.receive({ topic: 'x', payload: 20 });
  t.not(payloadOf(await otherAll.next()).expected, null, "another node's x keeps its state");
  a.receive({ reset: 'y' });
  await new Promise((resolve) => a.once('call:log', resolve));
  t.equal((await feed('y')).expected, null, 'msg.reset = "y" resets y');
  await feed('x');
  a.receive({ reset: 'all' });
  await new Promise((resolve) => a.once('call:log', resolve));
  t.equal((await feed('x')).expected, null, 'reset all: x');
  t.equal((await feed('y')).expected, null, 'reset all: y');
  t.equal(all.messages.length, 10, 'a reset sends nothing');
});

t.test('the device id can come from another message property', async (t) => {
  await helper.load(NODES, [modelConfig('m'), ...anomalyFlow('a', 'm', { deviceProperty: 'meta.sensor' })]);
  const all = new Sink(helper.getNode('a-all'));
  helper.getNode('a').receive({ topic: 'ignored', meta: { sensor: 'S-9' }, payload: 1 });
  t.equal(payloadOf(await all.next()).device, 'S-9');
  helper.getNode('a').receive({ payload: { device: 'S-10', value: 2 } });
  t.equal(payloadOf(await all.next()).device, 'S-10', 'payload.device when the property is absent');
});

t.test('status shows the model, then devices and the last score', async (t) => {
  await helper.load(NODES, [modelConfig('m'), ...anomalyFlow('a', 'm')]);
  const a = helper.getNode('a');
  const texts: string[] = [];
  a.on('call:status', (c: { args: [{ text?: string; fill?: string }] }) => texts.push(`${c.args[0].fill}:${c.args[0].text}`));
  const all = new Sink(helper.getNode('a-all'));
  for (let i = 0; i < 3; i++) {
    a.receive({ topic: 'd', payload: i });
    await all.next();
  }
  await new Promise((r) => setTimeout(r, 700)); // the status is throttled to one update per 500 ms
  t.ok(texts.some((s) => s.startsWith('green:edgelstm-anomaly.status.scored')), texts.join(' | '));
});

t.test('a node without a model reports an error for each message', async (t) => {
  await helper.load(NODES, [{ id: 'a', type: 'edgelstm-anomaly', model: '', wires: [[], []] }]);
  const errors = new ErrorLog(helper.getNode('a'));
  const e = errors.next();
  helper.getNode('a').receive({ topic: 'd', payload: 1 });
  t.match((await e).message, /no edgelstm-model configured|errors.unconfigured/);
});
