import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startNatsCluster, startNode, stopNode, type NatsNode } from '../../bench/nats-server';
import * as h from './cluster-harness';

// A 3-node JetStream cluster of real nats-servers (Debian's 2.9.x) on loopback; every instance is the compiled CLI.
// Each test's waits share a budget (h.withBudget) that ends before tap's file timeout, so a hang says where.
t.setTimeout(660_000);

const PARTITIONS = 16;

t.test('a 3-node JetStream cluster: a NATS node restarted and an instance killed mid-stream lose nothing', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'edgelstm-cluster3-'));
  const nodes: NatsNode[] = await startNatsCluster({ nodes: 3, partitions: PARTITIONS, dir });
  const urls = nodes.map((x) => `nats://127.0.0.1:${x.port}`);
  const nc = await h.natsClient(urls);
  const extra = ['--partitions', String(PARTITIONS), '--cluster-replicas', '3'];
  const instances: h.Instance[] = [];
  const detail = (): string => instances.map((i) => `--- ${i.name}\n${i.output().slice(-3000)}`).join('\n') + nodes.map((x) => `--- ${x.name}\n${x.log().slice(-2000)}`).join('\n');
  const budget = h.withBudget(t, 540_000);
  t.teardown(async () => {
    for (const i of instances) i.process.kill('SIGKILL');
    await nc.close().catch(() => undefined);
    for (const x of nodes) await stopNode(x, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  const DEVICES = Number(process.env.CLUSTER_DEVICES ?? 1000);
  const STEPS = 4;
  const reference = h.referenceResults(DEVICES, STEPS);
  // JetStream needs its meta leader before streams can be made.
  await h.until(async () => h.resultsStream(nc, 3).then(() => true, () => false), 60_000, 'the JetStream cluster to elect a leader', detail);
  budget.mark('leader elected');
  for (const name of ['x', 'y']) instances.push(h.startInstance(name, urls, extra));
  await h.untilBalanced(nc, PARTITIONS, ['x', 'y'], 120_000, detail);
  budget.mark('x, y balanced');
  const mqttNode = nodes[0]!;
  await h.publishSteps(mqttNode.mqttPort, DEVICES, 0, 1, detail);
  budget.mark('step 0 sent');

  // kill -9 and restart a NATS node while step 1 streams in: neither the one the devices publish to nor the input
  // stream's leader (nats-server 2.9 acknowledges an MQTT QoS 1 publish before the stream stores it, so readings
  // sent while the stream elects a new leader are lost before edgelstm sees them; the README says so). The node
  // may lead the lease, member, progress or snapshot buckets and the results stream: those elect anew under load.
  const leader = (await (await nc.jetstreamManager()).streams.info('EDGELSTM_IN')).cluster?.leader;
  const victim = nodes.slice(1).find((x) => x.name !== leader)!;
  t.comment(`restarting NATS node ${victim.name} (input stream leader: ${leader ?? '?'})`);
  const step1 = h.publishSteps(mqttNode.mqttPort, DEVICES, 1, 2, detail);
  await stopNode(victim, 'SIGKILL');
  await new Promise((r) => setTimeout(r, 2000));
  await startNode(victim);
  await step1;
  budget.mark('step 1 sent, NATS node restarted');
  await h.publishSteps(mqttNode.mqttPort, DEVICES, 2, 3, detail);
  budget.mark('step 2 sent');

  // kill -9 an instance while step 3 streams in
  const step3 = h.publishSteps(mqttNode.mqttPort, DEVICES, 3, 4, detail);
  instances[0]!.process.kill('SIGKILL');
  await step3;
  budget.mark('step 3 sent, x killed');
  await h.untilBalanced(nc, PARTITIONS, ['y'], 120_000, detail);
  budget.mark('y owns all');

  const ref = await h.within(reference, 120_000, 'the reference results');
  await h.untilAnswered(t, nc, ref.size, 300_000, detail);
  budget.mark('all answered');
  await new Promise((r) => setTimeout(r, 1500));
  const { flagged } = h.checkExactlyOnce(t, await h.readResults(nc), ref);
  t.comment(`${flagged} results flagged as redelivered`);
  t.comment(budget.report());
});
