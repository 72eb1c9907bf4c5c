import t from 'tap';
import { assignPartitions, partitionsOf } from '../../runtime/cluster/assignment';
import { resolveClusterOptions } from '../../runtime/cluster/cluster-options';
import { planSubjects } from '../../runtime/cluster/subjects';

t.test('every partition has exactly one owner, the same on every instance whatever the member order', async (t) => {
  const a = assignPartitions(['i1', 'i2', 'i3'], 64);
  const b = assignPartitions(['i3', 'i1', 'i2', 'i1'], 64);
  t.same(a, b);
  t.equal(a.filter((o) => o === undefined).length, 0);
  const counts = ['i1', 'i2', 'i3'].map((m) => a.filter((o) => o === m).length);
  t.equal(counts.reduce((x, y) => x + y, 0), 64);
  for (const c of counts) t.ok(c >= 12 && c <= 32, `share ${c} of 64 is near a third`);
  t.same(assignPartitions([], 4), [undefined, undefined, undefined, undefined]);
});

t.test('a member leaving moves only its own partitions; one joining takes some from each and moves no others', async (t) => {
  const before = assignPartitions(['i1', 'i2', 'i3'], 256);
  const after = assignPartitions(['i1', 'i3'], 256);
  before.forEach((o, p) => {
    if (o !== 'i2') t.equal(after[p], o, `partition ${p} stays with ${o}`);
  });
  const joined = assignPartitions(['i1', 'i2', 'i3', 'i4'], 256);
  joined.forEach((o, p) => {
    if (o !== 'i4') t.equal(o, before[p], `partition ${p} moves only to the newcomer`);
  });
  t.ok(joined.filter((o) => o === 'i4').length > 30);
  t.same(partitionsOf('i4', ['i1', 'i2', 'i3', 'i4'], 256), joined.flatMap((o, p) => (o === 'i4' ? [p] : [])));
});

t.test('subject plan: filters and the device token', async (t) => {
  const plan = planSubjects('part.{partition}.sensors.{device}.telemetry');
  t.equal(plan.streamFilter, 'part.*.sensors.*.telemetry');
  t.equal(plan.partitionFilter(7), 'part.7.sensors.*.telemetry');
  t.equal(plan.device('part.7.sensors.pump-7.telemetry'), 'pump-7');
  t.equal(plan.device('part.7.other.pump-7.telemetry'), undefined);
  t.equal(plan.device('part.7.sensors.pump-7'), undefined);
  t.equal(plan.device('part.7.sensors.pump-7.telemetry.x'), undefined, 'a token more');
  t.equal(plan.device('part.7.sensors..telemetry'), undefined, 'an empty device');
  t.equal(plan.device('part.7.sensorsX.pump-7.telemetry'), undefined, 'a fixed token longer');
  t.equal(plan.device('part.7.sensors.pump-7.telemetr'), undefined, 'a fixed token shorter');
  t.equal(plan.device('part.7.sensors.pump-7.telemetryX'), undefined, 'the last token longer');
  t.equal(plan.device('part..sensors.pump-7.telemetry'), 'pump-7', 'the partition token is not read');
  const last = planSubjects('p.{partition}.{device}');
  t.equal(last.device('p.3.dev-1'), 'dev-1', 'the device as the last token');
  t.equal(last.device('p.3.dev-1.x'), undefined);
  t.equal(last.device('p.3.'), undefined);
  t.throws(() => planSubjects('part.sensors.{device}'), /exactly one \{partition\} and one \{device\}/);
  t.throws(() => planSubjects('part.{partition}.*.{device}'), /cluster subject/);
});

t.test('options are checked before anything connects, naming the bad one', async (t) => {
  const ok = resolveClusterOptions({ servers: ['nats://127.0.0.1:4222'] });
  t.equal(ok.partitions, 64);
  t.match(ok.instance, /^[A-Za-z0-9_-]+-\d+$/);
  t.throws(() => resolveClusterOptions({ servers: [] }), /cluster option servers/);
  t.throws(() => resolveClusterOptions({ servers: ['x'], group: 'a.b' }), /cluster option group: expected letters/);
  t.throws(() => resolveClusterOptions({ servers: ['x'], partitions: 0 }), /cluster option partitions/);
  t.throws(() => resolveClusterOptions({ servers: ['x'], tickMs: 500, leaseTtlMs: 1000 }), /cluster option leaseTtlMs: expected an integer from 1500/);
  t.throws(() => resolveClusterOptions({ servers: ['x'], resultSubject: 'out' }), /cluster option resultSubject/);
  t.throws(() => resolveClusterOptions({ servers: ['x'], replicas: 2 }), /cluster option replicas/);
});
