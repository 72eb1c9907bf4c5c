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
