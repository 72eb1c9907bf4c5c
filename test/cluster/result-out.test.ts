import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type Msg } from 'nats';
import { startNatsCluster, stopNode } from '../../bench/nats-server';
import { ResultOut } from '../../runtime/cluster/result-out';

// A real nats-server on free ports: results written as raw PUB frames arrive as nc.publish would send them.
t.setTimeout(60_000);

t.test('ResultOut: every result arrives once, in order, byte for byte, before a message published after it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'edgelstm-result-out-'));
  const [node] = await startNatsCluster({ nodes: 1, partitions: 4, dir });
  const url = `nats://127.0.0.1:${node!.port}`;
  const pub = await connect({ servers: url });
  const sub = await connect({ servers: url });
  t.teardown(async () => {
    await pub.close();
    await sub.close();
    await stopNode(node!, 'SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  const got: { subject: string; data: string }[] = [];
  let done: () => void = () => undefined;
  const all = new Promise<void>((r) => (done = r));
  const N = 3000;
  sub.subscribe('edgelstm.>', {
    callback: (_e: unknown, m: Msg) => {
      got.push({ subject: m.subject, data: new TextDecoder().decode(m.data) });
      if (got.length === N + 1) done();
    },
  });
  await sub.flush();

  const out = new ResultOut(pub, 'edgelstm.{device}.result');
  const sent: { subject: string; data: string }[] = [];
  // Turns of several sizes (one frame, a few, more than the first buffer holds), ASCII and UTF-8 devices and payloads.
  for (let turn = 0, i = 0; i < N; turn++) {
    const n = Math.min(N - i, [1, 7, 500, 40][turn % 4]!);
    for (let k = 0; k < n; k++, i++) {
      const device = i % 5 === 0 ? `dév-${i}` : `dev-${i}`;
      const data = `{"device":"${device}","i":${i},"pad":"${'x€'.repeat(i % 300)}"}`;
      out.publish(device, data);
      sent.push({ subject: `edgelstm.${device}.result`, data });
    }
    if (turn % 4 === 2) {
      // what an acknowledgement does: a plain publish later in the same turn goes out after the queued results
      queueMicrotask(() => pub.publish('edgelstm.after.result', 'after'));
      sent.push({ subject: 'edgelstm.after.result', data: 'after' });
      break;
    }
    await new Promise((r) => setImmediate(r));
  }
  t.ok(sent.length < N + 1, 'the run stops at the marker turn');
  await pub.flush();
  // the rest, then one final marker counted as the N+1st message
  const rest = N - sent.filter((s) => s.subject !== 'edgelstm.after.result').length;
  for (let i = 0; i < rest; i++) {
    const device = `late-${i}`;
    out.publish(device, `{"late":${i}}`);
    sent.push({ subject: `edgelstm.${device}.result`, data: `{"late":${i}}` });
  }
  await all;
  t.equal(got.length, sent.length, 'one message per result (and the marker)');
  t.same(got, sent, 'same subjects and payloads, in the order given, the marker after the results queued before it');
});
