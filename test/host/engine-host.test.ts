import { join } from 'node:path';
import t from 'tap';
import { EngineHost, type HostLog } from '../../runtime/host/engine-host';
import { loadModel } from '../../runtime/model/load-model';
import { makeTestModel, tempDir, writeTestModel } from '../helpers/models';

function recorder(): HostLog & { lines: string[] } {
  const lines: string[] = [];
  return { lines, info: (m) => void lines.push(`info ${m}`), warn: (m) => void lines.push(`warn ${m}`) };
}

const open = (file: string, log: HostLog, horizon = 1): Promise<EngineHost> => EngineHost.load(file, { backend: 'reference', engineOptions: () => ({ horizon, maxDelayMs: 0 }), log });

t.test('restore: absent file, damaged file, then a snapshot the same model wrote', async (t) => {
  const dir = tempDir();
  const file = writeTestModel(dir);
  const log = recorder();
  const a = await open(file, log);
  const state = join(dir, 'state', 'state.bin');
  t.equal(await a.restore(state), false, 'no snapshot: nothing restored');
  for (const v of [1, 2, 3]) await a.engine.push({ device: 'd', values: [v] });
  t.equal(await a.save(state, true), true, 'readings since the last save: written (folder made)');
  t.equal(await a.save(state, true), false, 'nothing new: not written again');
  const next = await a.engine.push({ device: 'd', values: [4] });
  await a.close();

  const b = await open(file, log);
  t.equal(await b.restore(state), true);
  t.equal(b.engine.devices, 1);
  t.same((await b.engine.push({ device: 'd', values: [4] })).expected, next.expected, 'continues as the saved engine would have');
  await b.close();
  t.match(log.lines.join('\n'), /restored the state of 1 devices \(\d+ bytes\) from .*state\.bin/);

  const other = await open(writeTestModel(dir, { hidden: 16 }, 'other.onnx'), log);
  t.equal(await other.restore(state), false, 'a snapshot of another model is not restored');
  t.match(log.lines.at(-1), /^warn state not restored, starting clean: /);
  t.equal(other.engine.devices, 0, 'and changes nothing');
  await other.close();
});

t.test('swap: same architecture keeps the store, another starts afresh, the same model is a no-op', async (t) => {
  const dir = tempDir();
  const log = recorder();
  const host = await open(writeTestModel(dir, { seed: 1 }), log);
  await host.engine.push({ device: 'd', values: [1] });
  const store = host.engine.store;

  const same = await loadModel(makeTestModel({ seed: 1 }).bytes, { backend: 'reference' });
  t.equal(await host.swap(same), undefined, 'same fingerprint: nothing swapped');

  const sibling = await loadModel(makeTestModel({ seed: 2 }).bytes, { backend: 'reference' });
  let gateSeen = false;
  const kept = await host.swap(sibling, async () => void (gateSeen = host.gate !== undefined));
  t.equal(kept?.statesKept, true);
  t.ok(gateSeen, '`after` runs with admission closed');
  t.equal(host.gate, undefined, 'and admission opens after it');
  t.equal(host.engine.store, store, 'the same store');
  t.equal(host.engine.devices, 1);

  const wider = await loadModel(makeTestModel({ hidden: 16 }).bytes, { backend: 'reference' });
  const fresh = await host.swap(wider);
  t.equal(fresh?.statesKept, false);
  t.not(host.engine.store, store);
  t.equal(host.engine.devices, 0);
  t.match(log.lines.join('\n'), /another architecture .*device state starts afresh/);
  await host.close();
});

t.test('readings queued before a swap are stepped by the old model; the gate holds the ones after it', async (t) => {
  const oldOnly = await open(writeTestModel(tempDir(), { seed: 1 }), recorder());
  const byOld = await oldOnly.engine.push({ device: 'd', values: [1] });
  await oldOnly.close();
  const host = await open(writeTestModel(tempDir(), { seed: 1 }), recorder());
  const before = host.engine.push({ device: 'd', values: [1] });
  const swapping = host.swap(await loadModel(makeTestModel({ seed: 3 }).bytes, { backend: 'reference' }));
  await Promise.resolve();
  t.ok(host.gate, 'admission closed while the swap runs');
  t.same((await before).forecast, byOld.forecast, 'queued before the swap: the old model stepped it');
  await swapping;
  t.equal(host.gate, undefined);
  const after = await host.engine.push({ device: 'd', values: [1] });
  t.not(after.forecast[0], byOld.forecast[0], 'the new model runs');
  await host.close();
});

t.test('rebuild: new engine options over the same store; close runs `last` and refuses further work', async (t) => {
  let horizon = 1;
  const host = await EngineHost.load(writeTestModel(tempDir()), { backend: 'reference', engineOptions: () => ({ horizon, maxDelayMs: 0 }), log: recorder() });
  await host.engine.push({ device: 'd', values: [1] });
  const store = host.engine.store;
  horizon = 3;
  await host.rebuild();
  t.equal(host.engine.options.horizon, 3);
  t.equal(host.engine.store, store);
  let last = false;
  await host.close(async () => void (last = true));
  t.ok(last);
  t.ok(host.closing);
  t.ok(host.gate, 'admission stays closed');
  t.equal(await host.swap(await loadModel(makeTestModel({ seed: 9 }).bytes, { backend: 'reference' })), undefined, 'no swap after close');
});
