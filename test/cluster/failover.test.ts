import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNatsCluster, stopNode } from '../../bench/nats-server';
import * as h from './cluster-harness';
import { ttlBucket } from '../../runtime/cluster/leases';

// A real nats-server (Debian's 2.9.x) on free ports; every instance is the compiled CLI as its own process.
// Each test's waits share a budget (h.withBudget) that ends before tap's file timeout, so a hang says where.
t.setTimeout(660_000);

const PARTITIONS = 16;

t.test('a lease bucket without the agreed time to live is refused by name; a bad option stops start-up', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'edgelstm-cluster-ttl-'));
  const [node] = await startNatsCluster({ nodes: 1, partitions: PARTITIONS, dir });
  const nc = await h.natsClient([`nats://127.0.0.1:${node!.port}`]);
  t.teardown(async () => {
    await nc.close();
    await stopNode(node!, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  await nc.jetstream().views.kv('g1_leases', { history: 1 });
  await t.rejects(ttlBucket(nc.jetstream(), 'g1_leases', 3000, 1), /KV bucket g1_leases keeps entries for ever, this instance needs 3000 ms: every instance of a group must use the same --lease-ttl-ms/);
  const kv = await ttlBucket(nc.jetstream(), 'g2_leases', 3000, 1);
  t.equal((await kv.status()).ttl, 3000);
  const bad = h.startInstance('bad', [`nats://127.0.0.1:${node!.port}`], ['--partitions', '0']);
  t.not(await bad.exited, 0);
  t.match(bad.output(), /option --partitions: expected an integer >= 1/);
});

// Both ways of publishing results: acknowledged by a results stream (jetstream), and plain (core, the default: results
// written as PUB frames in one buffer per turn, the reading's AckAll after them on the same connection).
for (const publish of ['jetstream', 'core'] as const) t.test(`one NATS server, ${publish} publish: kill -9, a new instance, a graceful stop and a frozen instance lose nothing and change no result`, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'edgelstm-cluster-'));
  const [node] = await startNatsCluster({ nodes: 1, partitions: PARTITIONS, dir });
  const n = node!;
  const url = [`nats://127.0.0.1:${n.port}`];
  const nc = await h.natsClient(url);
  const extra = ['--partitions', String(PARTITIONS), '--cluster-publish', publish];
  const instances: h.Instance[] = [];
  const detail = (): string => instances.map((i) => `--- ${i.name}\n${i.output().slice(-3000)}`).join('\n');
  const budget = h.withBudget(t, 540_000);
  t.teardown(async () => {
    for (const i of instances) i.process.kill('SIGKILL');
    await nc.close().catch(() => undefined);
    await stopNode(n, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  const DEVICES = Number(process.env.CLUSTER_DEVICES ?? 2000);
  const STEPS = 5;
  const reference = h.referenceResults(DEVICES, STEPS);
  await h.resultsStream(nc, 1);
  for (const name of ['a', 'b', 'c']) instances.push(h.startInstance(name, url, extra));
  await h.untilBalanced(nc, PARTITIONS, ['a', 'b', 'c'], 120_000, detail);
  budget.mark('a, b, c balanced');

  await h.publishSteps(n.mqttPort, DEVICES, 0, 1, detail);
  // a reading the stream holds twice (an MQTT QoS 1 publish stored again): answered once, stepped once
  await h.publishAgain(n.mqttPort, 7, 0);
  // kill -9 while step 1 streams in
  const step1 = h.publishSteps(n.mqttPort, DEVICES, 1, 2, detail);
  await h.until(async () => (await h.resultCount(nc)) > DEVICES * 1.2, 120_000, 'results of step 1 flowing', detail);
  instances[0]!.process.kill('SIGKILL');
  await step1;
  instances.push(h.startInstance('d', url, extra));
  await h.untilBalanced(nc, PARTITIONS, ['b', 'c', 'd'], 120_000, detail);
  budget.mark('a killed, d balanced');

  // a graceful stop while step 2 streams in
  const step2 = h.publishSteps(n.mqttPort, DEVICES, 2, 3, detail);
  await h.until(async () => (await h.resultCount(nc)) > DEVICES * 2.2, 120_000, 'results of step 2 flowing', detail);
  instances[1]!.process.kill('SIGTERM');
  t.equal(await instances[1]!.exited, 0, 'a stopped instance hands its partitions over and exits 0');
  await step2;
  await h.untilBalanced(nc, PARTITIONS, ['c', 'd'], 120_000, detail);
  budget.mark('b stopped, c, d balanced');

  // a frozen instance (SIGSTOP) past its leases' time to live, woken up while step 4 streams in
  await h.publishSteps(n.mqttPort, DEVICES, 3, 4, detail);
  instances[2]!.process.kill('SIGSTOP');
  await h.untilBalanced(nc, PARTITIONS, ['d'], 120_000, detail);
  budget.mark('c frozen, d owns all');
  const step4 = h.publishSteps(n.mqttPort, DEVICES, 4, 5, detail);
  instances[2]!.process.kill('SIGCONT');
  await step4;
  await h.untilBalanced(nc, PARTITIONS, ['c', 'd'], 120_000, detail);
  budget.mark('c woken, c, d balanced');

  const ref = await h.within(reference, 120_000, 'the reference results');
  await h.untilAnswered(t, nc, ref.size, 300_000, detail);
  budget.mark('all answered');
  // let any late (wrong) publication arrive before counting
  await new Promise((r) => setTimeout(r, 1500));
  const { flagged } = h.checkExactlyOnce(t, await h.readResults(nc), ref);
  t.comment(`${flagged} results published again after kill -9, flagged as redelivered`);
  t.comment(budget.report());
  t.match(instances[2]!.output(), /partition abandoned/, 'the frozen instance gave its partitions up when it woke');
});
