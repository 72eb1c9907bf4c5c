import t from 'tap';
import { oneNatsNode } from './cluster-harness';
import { Membership } from '../../runtime/cluster/membership';

// A real nats-server on free ports.
t.setTimeout(120_000);

t.test('membership: heartbeats list members; a leave purges the entry (no delete marker), so the list is the stream\'s subjects alone', async (t) => {
  const nc = await oneNatsNode(t, 4);
  const js = nc.jetstream();
  const jsm = await nc.jetstreamManager();
  const a = await Membership.open(js, jsm, 'g_members', 3000, 'a', 1);
  const b = await Membership.open(js, jsm, 'g_members', 3000, 'b', 1);
  t.same(await a.members(), [], 'nobody before a heartbeat');
  await b.heartbeat();
  await a.heartbeat();
  await a.heartbeat();
  t.same(await a.members(), ['a', 'b'], 'both, sorted, once each');
  await a.leave();
  t.same(await b.members(), ['b'], 'a left: gone at once');
  const kv = await js.views.kv('g_members');
  t.equal(await kv.get('a'), null, 'no entry left for a (a delete marker would be a subject of the stream)');
  const si = await jsm.streams.info('KV_g_members', { subjects_filter: '$KV.g_members.>' });
  t.same(Object.keys(si.state.subjects ?? {}), ['$KV.g_members.b'], 'the stream holds only the live member\'s subject');
  await a.heartbeat();
  t.same(await b.members(), ['a', 'b'], 'a rejoins with its next heartbeat');
});
