import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import type { SharedEngine } from '../../nodes/shared/shared-engine';
import { defaultModelPath } from '../../runtime/model/default-model';
import { tempDir, writeTestModel } from '../helpers/models';
import { anomalyFlow, ErrorLog, helper, modelConfig, NODES, predictFlow, series, Sink, warningsOf, type Msg } from './flow-helpers';

interface R {
  device: string;
  expected: number[] | null;
  forecast: number[];
  model: string;
}
const p = (m: Msg): R => m.payload as R;
const engineOf = (id: string): SharedEngine => (helper.getNode(id) as unknown as { engine: SharedEngine }).engine;

t.afterEach(() => helper.unload());

t.test('nodes naming one config node share one engine and one store, each in its own scope', async (t) => {
  await helper.load(NODES, [modelConfig('m'), ...anomalyFlow('a', 'm'), ...anomalyFlow('b', 'm'), ...predictFlow('p', 'm')]);
  const sinks = { a: new Sink(helper.getNode('a-all')), b: new Sink(helper.getNode('b-all')), p: new Sink(helper.getNode('p-out')) };
  for (const id of ['a', 'b', 'p'] as const) {
    helper.getNode(id).receive({ topic: 'x', payload: 1 });
    await sinks[id].next();
  }
  helper.getNode('a').receive({ topic: 'y', payload: 1 });
  await sinks.a.next();
  const engine = await engineOf('m').ready();
  t.equal(engine.devices, 4, 'one store holds a:x, a:y, b:x and p:x');
  t.equal(engineOf('m').devicesIn('a'), 2);
  t.equal(engineOf('m').devicesIn('b'), 1);
  t.equal(engine.counters.accepted, 4, 'one engine stepped every reading');
});

t.test('state survives close and redeploy when a state file is set', async (t) => {
  const dir = tempDir();
  const stateFile = join(dir, 'sub', 'state.bin');
  const flow = [modelConfig('m', { stateFile, saveInterval: 0 }), ...anomalyFlow('a', 'm')];
  await helper.load(NODES, flow);
  let out = new Sink(helper.getNode('a-all'));
  let last: R | undefined;
  for (const x of series(6)) {
    helper.getNode('a').receive({ topic: 'x', payload: x });
    last = p(await out.next());
  }
  await helper.unload();
  t.ok(existsSync(stateFile), 'saved on close');

  await helper.load(NODES, flow);
  out = new Sink(helper.getNode('a-all'));
  helper.getNode('a').receive({ topic: 'x', payload: 25 });
  const after = p(await out.next());
  t.same(after.expected, last!.forecast, 'the first reading after the redeploy is scored against the forecast made before it');
  helper.getNode('a').receive({ topic: 'new', payload: 25 });
  t.equal(p(await out.next()).expected, null, 'an unknown device still starts afresh');
});

t.test('without a state file a redeploy starts afresh', async (t) => {
  const flow = [modelConfig('m'), ...anomalyFlow('a', 'm')];
  await helper.load(NODES, flow);
  let out = new Sink(helper.getNode('a-all'));
  for (const x of [1, 2, 3]) {
    helper.getNode('a').receive({ topic: 'x', payload: x });
    await out.next();
  }
  await helper.unload();
  await helper.load(NODES, flow);
  out = new Sink(helper.getNode('a-all'));
  helper.getNode('a').receive({ topic: 'x', payload: 4 });
  t.equal(p(await out.next()).expected, null);
});

t.test('an unusable state file warns and starts clean', async (t) => {
  const stateFile = join(tempDir(), 'state.bin');
  writeFileSync(stateFile, 'not a snapshot');
  await helper.load(NODES, [modelConfig('m', { stateFile }), ...anomalyFlow('a', 'm')]);
  const out = new Sink(helper.getNode('a-all'));
  helper.getNode('a').receive({ topic: 'x', payload: 4 });
  t.equal(p(await out.next()).expected, null);
  t.match(warningsOf('edgelstm-model').join('\n'), /state not restored, starting clean: .*state\.bin/);
});

t.test('bad settings warn and fall back to defaults; a missing model file is an error per message', async (t) => {
  await helper.load(NODES, [modelConfig('m', { threads: 'many', backend: 'gpu', maxDevices: -1 }), ...anomalyFlow('a', 'm'), modelConfig('gone', { source: 'file', path: '/nonexistent/m.onnx' }), ...anomalyFlow('b', 'gone')]);
  const w = warningsOf('edgelstm-model').join('\n');
  t.match(w, /threads: expected an integer from 1 to 64, found "many"; using 1/);
  t.match(w, /backend: expected one of auto, native, wasm, found "gpu"; using auto/);
  t.match(w, /maxDevices: .*found -1/);
  const out = new Sink(helper.getNode('a-all'));
  helper.getNode('a').receive({ topic: 'x', payload: 4 });
  t.equal(p(await out.next()).model, 'generic@1.1.0', 'works with the defaults');
  const errors = new ErrorLog(helper.getNode('b'));
  const e = errors.next();
  helper.getNode('b').receive({ topic: 'x', payload: 4 });
  t.match((await e).message, /nonexistent\/m\.onnx.*cannot read model file/);
});

t.test('a larger horizon arriving later rebuilds the engine over the same store', async (t) => {
  await helper.load(NODES, [modelConfig('m'), ...anomalyFlow('a', 'm')]);
  const out = new Sink(helper.getNode('a-all'));
  for (const x of [1, 2, 3]) {
    helper.getNode('a').receive({ topic: 'x', payload: x });
    await out.next();
  }
  const shared = engineOf('m');
  const before = await shared.ready();
  shared.requireHorizon(4);
  helper.getNode('a').receive({ topic: 'x', payload: 4 });
  const r = p(await out.next());
  const after = await shared.ready();
  t.not(after, before, 'a new engine');
  t.equal(after.options.horizon, 4);
  t.equal(after.store, before.store, 'the same store');
  t.not(r.expected, null, 'x kept its state');
  const direct = await shared.push('probe', 'x', [1], undefined);
  t.equal(direct.forecast.length, 4, 'the engine now rolls out 4 steps');
});

t.test('source "deployed": the model edgelstm deploy installed, swapped on announcement', async (t) => {
  const userDir = tempDir();
  mkdirSync(join(userDir, 'edgelstm'));
  writeFileSync(join(userDir, 'edgelstm', 'current.json'), JSON.stringify({ sha256: 'x', path: defaultModelPath() }));
  helper.settings({ userDir });
  t.teardown(() => void helper.settings({ userDir: undefined }));
  await helper.load(NODES, [modelConfig('m', { source: 'deployed' }), ...anomalyFlow('a', 'm')]);
  const out = new Sink(helper.getNode('a-all'));
  helper.getNode('a').receive({ topic: 'x', payload: 1 });
  t.equal(p(await out.next()).model, 'generic@1.1.0');
  const other = writeTestModel(userDir, { hidden: 8, normalization: { mode: 'global', mean: [0], std: [1] } });
  const events = (helper as unknown as { _events: { emit(e: string, p: unknown): void } })._events;
  const swapped = new Promise<void>((resolve) => engineOf('m').onChange = resolve);
  events.emit('edgelstm:model', { sha256: 'y', path: other });
  await swapped;
  helper.getNode('a').receive({ topic: 'x', payload: 2 });
  const r = p(await out.next());
  t.equal(r.model, 'test@1.0.0', 'the announced model is in use without a redeploy');
  t.equal(r.expected, null, 'another architecture: state starts afresh');
  t.match(warningsOf('edgelstm-model').join('\n'), /another architecture/);
});
