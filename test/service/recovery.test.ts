import { join } from 'node:path';
import t from 'tap';
import { EngineHost } from '../../runtime/host/engine-host';
import { readJournal } from '../../runtime/service/journal';
import { Recovery, type RecoveryLog } from '../../runtime/service/recovery';
import { snapshotDigest } from '../../runtime/state/snapshot';
import { tempDir, writeTestModel } from '../helpers/models';

// Recovery without a broker: an engine host, a state file and a journal, as the service gives it.
const quiet: RecoveryLog = { info: () => undefined, warn: () => undefined, error: () => undefined };

async function open(model: string, dir: string, unacked: string[] = []): Promise<{ host: EngineHost; recovery: Recovery }> {
  const host = await EngineHost.load(model, { backend: 'reference', engineOptions: () => ({ maxDelayMs: 0 }), log: { info: () => undefined, warn: () => undefined } });
  const recovery = new Recovery(host, { stateFile: join(dir, 'state.bin'), journalFile: join(dir, 'state.bin.journal'), replayChunk: 2, log: quiet, unackedResults: async () => unacked });
  await recovery.restore();
  return { host, recovery };
}

t.test('a crash after journaling: restore replays the journal to the state an uninterrupted run has', async (t) => {
  const dir = tempDir();
  const model = writeTestModel(dir);
  const readings = [1, 2, 3, 4, 5].map((v, i) => ({ device: i % 2 ? 'a' : 'b', ts: 1000 + i, values: [v] }));

  const first = await open(model, dir);
  t.equal(readJournal(join(dir, 'state.bin.journal')).header.base, 'empty', 'no snapshot yet: the journal extends the empty state');
  for (const r of readings) {
    await first.host.engine.push(r);
    first.recovery.journal!.append(r.device, r.ts, r.values);
    first.recovery.steppedTs.set(r.device, r.ts);
  }
  await first.recovery.journal!.sync();
  const uninterrupted = await first.host.engine.push({ device: 'a', ts: 2000, values: [6] });
  // kill -9 here: no snapshot, no close.

  const second = await open(model, dir);
  t.equal(second.host.engine.devices, 2, 'both devices back');
  t.equal(second.recovery.submittedTs.get('b'), 1004, 'last timestamps from the journal: redeliveries are recognised');
  const again = second.recovery.takeReplayed('b', 1004);
  t.match(JSON.parse(again!.payload), { device: 'b', ts: 1004 }, 'the result of a replayed reading is kept for its redelivery');
  t.equal(second.recovery.takeReplayed('b', 1004), undefined, 'once');
  t.same((await second.host.engine.push({ device: 'a', ts: 2000, values: [6] })).forecast, uninterrupted.forecast, 'continues exactly where it stopped');
  await second.host.close();
  await first.host.close();
});

t.test('a snapshot starts the journal over; the next start restores it without replaying', async (t) => {
  const dir = tempDir();
  const model = writeTestModel(dir);
  const first = await open(model, dir, ['{"device":"a","ts":7,"anomaly":true,"episode":{"state":"start"}}', 'not a result']);
  await first.host.engine.push({ device: 'a', ts: 7, values: [1] });
  first.recovery.steppedTs.set('a', 7);
  await first.recovery.snapshot();
  const j = readJournal(join(dir, 'state.bin.journal'));
  t.equal(j.records.length, 0);
  t.equal(j.header.base, snapshotDigest(join(dir, 'state.bin')), 'the journal names the snapshot it extends');
  t.same(j.header.lastTs, { a: 7 });
  t.same(j.header.unacked, ['{"device":"a","ts":7,"anomaly":true,"episode":{"state":"start"}}', 'not a result'], 'results the broker had not confirmed are kept');
  await first.host.close();

  const second = await open(model, dir);
  t.equal(second.host.engine.devices, 1, 'the snapshot restored');
  t.equal(second.recovery.submittedTs.get('a'), 7);
  t.same(second.recovery.takeReplayed('a', 7), { payload: '{"device":"a","ts":7,"anomaly":true,"episode":{"state":"start"}}', anomaly: true }, 'an unconfirmed result answers its redelivery');
  await second.host.close();
});

t.test('a journal of another model is not replayed', async (t) => {
  const dir = tempDir();
  const first = await open(writeTestModel(dir, { seed: 1 }, 'a.onnx'), dir);
  await first.host.engine.push({ device: 'a', ts: 1, values: [1] });
  first.recovery.journal!.append('a', 1, [1]);
  await first.recovery.journal!.sync();
  await first.host.close();
  const second = await open(writeTestModel(dir, { seed: 2 }, 'b.onnx'), dir);
  t.equal(second.host.engine.devices, 0);
  t.equal(second.recovery.submittedTs.size, 0);
  await second.host.close();
});

t.test('a crash between the snapshot and the journal rotation: the results noted before it still answer redeliveries', async (t) => {
  const dir = tempDir();
  const model = writeTestModel(dir);
  const unconfirmed = '{"device":"a","ts":7,"anomaly":false,"episode":null}';
  const first = await open(model, dir, [unconfirmed]);
  await first.host.engine.push({ device: 'a', ts: 6, values: [0] });
  first.recovery.steppedTs.set('a', 6);
  await first.recovery.snapshot(); // the journal now extends this snapshot
  await first.host.engine.push({ device: 'a', ts: 7, values: [1] });
  first.recovery.journal!.append('a', 7, [1]);
  first.recovery.steppedTs.set('a', 7);
  // What snapshot() does up to the rotation, then kill -9.
  await first.recovery.journal!.noteUnacked([unconfirmed]);
  await first.host.engine.saveState(join(dir, 'state.bin'));
  const j = readJournal(join(dir, 'state.bin.journal'));
  t.same(j.unacked, [unconfirmed], 'the results are noted in the journal');
  t.equal(j.records.length, 1, 'the records before the note are kept');
  t.not(j.header.base, snapshotDigest(join(dir, 'state.bin')), 'the journal extends the older snapshot');
  await first.host.close();

  const second = await open(model, dir);
  t.equal(second.host.engine.devices, 1, 'the new snapshot restored');
  t.ok(second.recovery.isRedelivery('a', 7, [1]), 'its readings are redeliveries');
  t.same(second.recovery.takeReplayed('a', 7), { payload: unconfirmed, anomaly: false }, 'the redelivered reading gets its unconfirmed result, not silence');
  await second.host.close();
});

t.test('a journal that goes on after a note (the snapshot failed) is read past it', async (t) => {
  const dir = tempDir();
  const model = writeTestModel(dir);
  const first = await open(model, dir);
  first.recovery.journal!.append('a', 1, [1]);
  await first.recovery.journal!.noteUnacked(['{"device":"a","ts":1}']);
  first.recovery.journal!.append('a', 2, [2]);
  await first.recovery.journal!.sync();
  const j = readJournal(join(dir, 'state.bin.journal'));
  t.same(j.records.map((r) => r.ts), [1, 2]);
  t.equal(j.torn, undefined);
  t.same(j.unacked, ['{"device":"a","ts":1}']);
  await first.host.close();
});
