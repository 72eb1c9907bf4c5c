import t from 'tap';
import { oneNatsNode } from './cluster-harness';
import { PartitionSnapshots } from '../../runtime/cluster/partition-snapshots';

// A real nats-server on free ports; chunks made small so that a snapshot takes several.
t.setTimeout(120_000);

t.test('snapshots in KV: inline when they fit, in chunks otherwise (alternating sets), checked on read', async (t) => {
  const nc = await oneNatsNode(t, 4);
  const js = nc.jetstream();
  // chunks of 4096 bytes
  const snaps = await PartitionSnapshots.open(js, 'g_snapshots', 1, 16 * 1024 + 4096);
  const state = (n: number, fill: number): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 7 + fill) & 255);

  t.equal(await snaps.get(3), undefined, 'nothing stored yet');
  t.equal(await snaps.put(3, { seq: 10, state: state(100, 1), lastTs: { a: 5 } }) > 100, true);
  t.same(await snaps.get(3), { seq: 10, state: Buffer.from(state(100, 1)), lastTs: { a: 5 } }, 'inline');

  const big = state(20_000, 2);
  await snaps.put(3, { seq: 20, state: big, lastTs: { a: 6, b: 7 } });
  t.same(await snaps.get(3), { seq: 20, state: Buffer.from(big), lastTs: { a: 6, b: 7 } }, 'in chunks (set a)');
  const kv = await js.views.kv('g_snapshots');
  t.not(await kv.get('p3.a.4'), null, '5 chunks of 4 KiB in set a');
  const bigger = state(30_000, 3);
  await snaps.put(3, { seq: 30, state: bigger, lastTs: {} });
  t.same(await snaps.get(3), { seq: 30, state: Buffer.from(bigger), lastTs: {} }, 'in chunks (set b)');
  t.not(await kv.get('p3.b.7'), null, '8 chunks in set b');

  // another instance's view (nothing remembered) reads the entry and writes the other set
  const other = await PartitionSnapshots.open(js, 'g_snapshots', 1, 16 * 1024 + 4096);
  await other.put(3, { seq: 40, state: big, lastTs: {} });
  t.same((await snaps.get(3))?.seq, 40);
  t.equal((await kv.get('p3'))!.string().split('\n')[1], 'a', 'written to the set the entry did not point at');

  // a chunk replaced under the entry: refused by its checksum, with the reason
  await kv.put('p3.a.1', new Uint8Array(4096));
  await t.rejects(snaps.get(3), /partition 3 snapshot: checksum mismatch/);
  await kv.put('p2', Buffer.from('hello\n'));
  await t.rejects(snaps.get(2), /partition 2 snapshot: not an edgelstm partition snapshot/);
});
