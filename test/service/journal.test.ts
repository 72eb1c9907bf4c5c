import t from 'tap';
import { readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Journal, readJournal, type JournalHeader } from '../../runtime/service/journal';
import { snapshotDigest } from '../../runtime/state/snapshot';
import { tempDir } from '../helpers/models';

const header = (base = 'empty'): JournalHeader => ({ base, fingerprint: 'f'.repeat(64), lastTs: { a: 1 }, createdAt: 0 });

t.test('records come back exactly; a PUBACK waits until its reading is on disk', async (t) => {
  const file = join(tempDir('edgelstm-journal-'), 's.bin.journal');
  const j = Journal.create(file, header());
  const want: { device: string; ts: number; values: number[] }[] = [];
  let durableSeen = -1;
  for (let block = 0; block < 3; block++) {
    let last = 0;
    for (let i = 0; i < 50; i++) {
      const r = { device: `dév-${i % 7}-${'x'.repeat(i)}`, ts: 1_700_000_000_000 + block * 1000 + i + 0.25, values: [Math.PI * i, -0, 1e-300, Number.MAX_VALUE / (i + 1)] };
      want.push(r);
      last = j.append(r.device, r.ts, r.values);
    }
    let called = false;
    j.afterDurable(last, () => (called = true));
    t.equal(called, false, 'not before the block is written');
    await j.sync();
    t.equal(called, true, 'after the sync');
    durableSeen = j.durable;
  }
  t.equal(durableSeen, 150);
  await j.close();
  const got = readJournal(file);
  t.same(got.header, header());
  t.equal(got.torn, undefined);
  t.equal(got.records.length, want.length);
  t.ok(got.records.every((r, i) => r.device === want[i]!.device && Object.is(r.ts, want[i]!.ts) && r.values.every((v, k) => Object.is(v, want[i]!.values[k]))), 'bit-exact values, -0 included');
});

t.test('a torn tail (cut anywhere in the last block, or altered) drops that block only; continue() cuts it off', async (t) => {
  const dir = tempDir('edgelstm-journal-');
  const file = join(dir, 'j');
  const j = Journal.create(file, header('ab'.repeat(32)));
  for (let i = 0; i < 10; i++) j.append('a', i, [i]);
  await j.sync();
  const firstEnd = readFileSync(file).length;
  for (let i = 10; i < 20; i++) j.append('b', i, [i]);
  await j.sync();
  await j.close();
  const full = readFileSync(file);
  for (let cut = firstEnd; cut < full.length; cut++) {
    writeFileSync(file, full.subarray(0, cut));
    const c = readJournal(file);
    if (c.records.length !== 10 || c.validBytes !== firstEnd || (cut > firstEnd && c.torn === undefined)) {
      t.fail(`cut at ${cut}: ${c.records.length} records, valid ${c.validBytes}, torn ${c.torn}`);
      return;
    }
  }
  t.pass(`every cut between byte ${firstEnd} and ${full.length} keeps the 10 complete records`);
  const altered = Buffer.from(full);
  altered[full.length - 12] ^= 1;
  writeFileSync(file, altered);
  const c = readJournal(file);
  t.equal(c.records.length, 10);
  t.match(c.torn, /checksum/);
  // Continue after the complete blocks: the bad one is cut off, new blocks follow.
  const k = Journal.continue(file, c.validBytes);
  k.append('c', 99, [1, 2]);
  await k.sync();
  await k.close();
  const after = readJournal(file);
  t.equal(after.torn, undefined);
  t.same(after.records.map((r) => r.device), [...Array(10).fill('a'), 'c']);
  truncateSync(file, 5);
  t.throws(() => readJournal(file), { code: 'E_SNAPSHOT' }, 'a file cut inside its magic is not a journal');
});

t.test('rotate starts an empty journal naming the new snapshot; snapshotDigest is the state file trailer', async (t) => {
  const dir = tempDir('edgelstm-journal-');
  const file = join(dir, 'j');
  const state = join(dir, 'state.bin');
  t.equal(snapshotDigest(state), 'empty');
  writeFileSync(state, Buffer.concat([Buffer.from('body'), Buffer.alloc(32, 7)]));
  t.equal(snapshotDigest(state), '07'.repeat(32));
  const j = Journal.create(file, header());
  j.append('a', 1, [1]);
  await j.rotate({ ...header(snapshotDigest(state)), unacked: ['{"device":"a","ts":1}'] });
  j.append('a', 2, [2]);
  await j.close();
  const c = readJournal(file);
  t.equal(c.header.base, '07'.repeat(32));
  t.same(c.header.unacked, ['{"device":"a","ts":1}']);
  t.same(c.records, [{ device: 'a', ts: 2, values: [2] }]);
});
