import type { Test } from 'tap';
import type { DeviceStateStore, StateLayout, StoreOptions } from '../../runtime/state/store';
import { decodeSnapshotInto, encodeSnapshot } from '../../runtime/state/snapshot';

export type StoreFactory = (layout: StateLayout, opts: StoreOptions) => DeviceStateStore;

const layout: StateLayout = { stateWidth: 4, auxWidth: 3 };

function fill(store: DeviceStateStore, device: string, v: number): void {
  const s = store.slotOf(device);
  const { stateWidth: w, auxWidth: a } = store.layout;
  store.h.fill(v, s * w, (s + 1) * w);
  store.c.fill(-v, s * w, (s + 1) * w);
  store.aux.fill(v * 10, s * a, (s + 1) * a);
}

function read(store: DeviceStateStore, device: string): number[] {
  const s = store.slotOf(device);
  const { stateWidth: w, auxWidth: a } = store.layout;
  return [...store.h.subarray(s * w, (s + 1) * w), ...store.c.subarray(s * w, (s + 1) * w), ...store.aux.subarray(s * a, (s + 1) * a)];
}

/** The behaviour every DeviceStateStore must have. A new backend runs this suite. */
export function storeConformance(t: Test, name: string, make: StoreFactory): void {
  t.test(`${name}: a new device gets a fresh zero slot; a known one keeps its state`, async (t) => {
    const store = make(layout, { maxDevices: 10, initialCapacity: 2 });
    const evicted: string[] = [];
    store.onEvict = (d) => evicted.push(d);
    t.equal(store.slotOf('a'), -1);
    const a = store.acquire('a', 1);
    t.equal(store.slotOf('a'), a);
    t.same(read(store, 'a'), new Array(11).fill(0));
    fill(store, 'a', 3);
    const again = store.acquire('a', 2);
    t.equal(again, a);
    t.same(evicted, [], 'nothing evicted below maxDevices');
    t.same(read(store, 'a'), [3, 3, 3, 3, -3, -3, -3, -3, 30, 30, 30]);
    t.equal(store.slotOf('zz'), -1);
  });

  t.test(`${name}: grows past its initial capacity without losing state`, async (t) => {
    const store = make(layout, { maxDevices: 100, initialCapacity: 1 });
    for (let i = 0; i < 50; i++) {
      store.acquire(`d${i}`, i);
      fill(store, `d${i}`, i);
    }
    t.equal(store.size, 50);
    for (let i = 0; i < 50; i++) t.equal(read(store, `d${i}`)[0], i, `d${i}`);
  });

  t.test(`${name}: evicts the least recently used device beyond maxDevices, and only it`, async (t) => {
    const store = make(layout, { maxDevices: 3 });
    for (const d of ['a', 'b', 'c']) {
      store.acquire(d, 0);
      fill(store, d, d.charCodeAt(0));
    }
    const evicted: string[] = [];
    store.onEvict = (d) => {
      evicted.push(d);
      t.equal(store.slotOf(d), -1, 'the evicted device is gone when onEvict is told');
    };
    store.acquire('a', 1); // a is now the most recent; b the least
    t.same(evicted, []);
    store.acquire('d', 2);
    t.same(evicted, ['b']);
    t.same(read(store, 'd'), new Array(11).fill(0), 'the new device starts clean in the reused slot');
    t.equal(store.slotOf('b'), -1);
    t.equal(read(store, 'a')[0], 97);
    t.equal(read(store, 'c')[0], 99);
    t.same(store.devices(), ['c', 'a', 'd']);
    t.equal(store.size, 3);
  });

  t.test(`${name}: idle devices expire after the time-to-live`, async (t) => {
    const store = make(layout, { maxDevices: 10 });
    store.acquire('old', 0);
    store.acquire('mid', 50);
    store.acquire('new', 100);
    t.same(store.evictIdle(120, 60), ['old', 'mid']);
    t.same(store.devices(), ['new']);
    t.same(store.evictIdle(120, 60), []);
  });

  t.test(`${name}: reset and delete touch one device only`, async (t) => {
    const store = make(layout, { maxDevices: 10 });
    for (const [d, v] of [['a', 1], ['b', 2]] as const) {
      store.acquire(d, 0);
      fill(store, d, v);
    }
    t.equal(store.reset('a'), true);
    t.same(read(store, 'a'), new Array(11).fill(0));
    t.equal(read(store, 'b')[0], 2);
    t.equal(store.reset('nobody'), false);
    t.equal(store.delete('a'), true);
    t.equal(store.delete('a'), false);
    t.equal(read(store, 'b')[0], 2);
    store.resetAll();
    t.same(read(store, 'b'), new Array(11).fill(0));
    t.equal(store.size, 1);
  });

  t.test(`${name}: snapshot round trip keeps state and recency; another model's snapshot is refused`, async (t) => {
    const store = make(layout, { maxDevices: 10 });
    for (const [d, v] of [['a', 1], ['b', 2], ['c', 3]] as const) {
      store.acquire(d, v);
      fill(store, d, v + 0.5);
    }
    const id = { fingerprint: 'f'.repeat(64), model: 'm@1.0.0' };
    const bytes = encodeSnapshot(store, id);
    const restored = make(layout, { maxDevices: 10 });
    t.equal(decodeSnapshotInto(bytes, restored, id), 3);
    for (const d of ['a', 'b', 'c']) t.same(read(restored, d), read(store, d), d);
    t.same(restored.devices(), store.devices());
    t.equal(restored.lastUsed('b'), 2);

    const other = make(layout, { maxDevices: 10 });
    t.throws(() => decodeSnapshotInto(bytes, other, { fingerprint: 'e'.repeat(64), model: 'other@2.0.0' }), /taken under model m@1.0.0 .* not the loaded model other@2.0.0/);
    t.throws(() => decodeSnapshotInto(bytes.subarray(0, bytes.length - 9), other, id), /checksum mismatch/);
    t.throws(() => decodeSnapshotInto(Buffer.from('hello world, not a snapshot at all, really'), other, id), /not an edgelstm state snapshot/);
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 40] ^= 0xff;
    t.throws(() => decodeSnapshotInto(flipped, other, id), /checksum mismatch/);
    t.throws(() => decodeSnapshotInto(bytes, make({ stateWidth: 8, auxWidth: 3 }, {}), id), /state layout/);
    t.equal(other.size, 0, 'a refused snapshot changes nothing');
  });

  t.test(`${name}: options are checked`, async (t) => {
    t.throws(() => make(layout, { maxDevices: 0 }), RangeError);
    t.throws(() => make({ stateWidth: 0, auxWidth: 1 }, {}), RangeError);
  });
}
