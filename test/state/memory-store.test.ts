import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MemoryStateStore } from '../../runtime/state/memory-store';
import { readSnapshotFile, writeSnapshotFile } from '../../runtime/state/snapshot';
import { storeConformance } from './store-conformance';
import { tempDir } from '../helpers/models';

storeConformance(t, 'MemoryStateStore', (layout, opts) => new MemoryStateStore(layout, opts));

t.test('snapshot files are replaced atomically and read back', async (t) => {
  const dir = tempDir();
  const file = join(dir, 'state.bin');
  const store = new MemoryStateStore({ stateWidth: 2, auxWidth: 1 });
  store.acquire('x', 5);
  store.h[0] = 0.25;
  const id = { fingerprint: 'a'.repeat(64), model: 'm@1.0.0' };
  writeSnapshotFile(file, store, id);
  store.h[0] = 0.5;
  writeSnapshotFile(file, store, id);
  const back = new MemoryStateStore({ stateWidth: 2, auxWidth: 1 });
  t.equal(readSnapshotFile(file, back, id), 1);
  t.equal(back.h[back.slotOf('x') * 2], 0.5);
  writeFileSync(file, 'truncated');
  t.throws(() => readSnapshotFile(file, new MemoryStateStore({ stateWidth: 2, auxWidth: 1 }), id), { code: 'E_SNAPSHOT' });
  t.throws(() => readSnapshotFile(join(dir, 'missing'), back, id), /cannot read state snapshot/);
});

t.test('acquireAt: a right hint is a use of that slot; a stale or wrong hint falls back to acquire', async (t) => {
  const store = new MemoryStateStore({ stateWidth: 1, auxWidth: 1 }, { maxDevices: 2, initialCapacity: 2 });
  const a = store.acquire('a', 1);
  const b = store.acquire('b', 2);
  t.equal(store.acquireAt('a', a, 3), a, 'right hint');
  t.equal(store.lastUsed('a'), 3, 'counts as a use');
  t.same(store.devices(), ['b', 'a'], 'and moves the device to most recently used');
  t.equal(store.acquireAt('a', b, 4), a, "another device's slot: the index decides");
  t.equal(store.acquireAt('a', 99, 5), a, 'out of range');
  t.equal(store.acquireAt('a', -1, 6), a, 'no hint');
  t.equal(store.size, 2, 'no device was added');
  // 'b' is least recently used: a new device takes its slot, so b's old hint now names 'c'.
  let evicted = '';
  store.onEvict = (d) => (evicted = d);
  const c = store.acquireAt('c', -1, 7);
  t.equal(evicted, 'b');
  t.equal(c, b);
  const b2 = store.acquireAt('b', b, 8);
  t.not(b2, b, "a stale hint never hands over another device's slot");
  t.equal(store.slotOf('b'), b2);
  t.equal(evicted, 'a', 'b came back through acquire, evicting the least recently used');
});
