import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { freePort } from '../runtime/net/free-port';

/** Debian's nats-server (2.9.x): JetStream, an MQTT listener and subject mappings. */
export const NATS_SERVER = '/usr/sbin/nats-server';

export interface NatsNode {
  name: string;
  port: number;
  mqttPort: number;
  clusterPort: number;
  conf: string;
  process: ChildProcess;
  /** stderr so far (for failure messages). */
  log(): string;
}

export interface NatsClusterOptions {
  /** 1 for a single server; 3 for a JetStream cluster on loopback. */
  nodes: number;
  /** Partitions of the MQTT-to-partition subject mapping. */
  partitions: number;
  dir: string;
}

/**
 * NATS servers of our own on free loopback ports, as the README's deployment
 * section configures them: JetStream, an MQTT listener, and the mapping that
 * puts `sensors/<device>/telemetry` into `part.<n>.sensors.<device>.telemetry`.
 */
export async function startNatsCluster(o: NatsClusterOptions): Promise<NatsNode[]> {
  const ports = await Promise.all(Array.from({ length: o.nodes }, async () => ({ port: await freePort(), mqttPort: await freePort(), clusterPort: await freePort() })));
  const nodes: NatsNode[] = [];
  for (let i = 0; i < o.nodes; i++) {
    const name = `n${i + 1}`;
    const dir = join(o.dir, name);
    mkdirSync(dir, { recursive: true });
    const p = ports[i]!;
    const lines = [
      `server_name: ${name}`,
      `listen: 127.0.0.1:${p.port}`,
      `jetstream { store_dir: "${join(dir, 'js')}" }`,
      // On a cluster, MQTT sessions are replicated on all 3 nodes: otherwise the server may place them on 2, and with one
      // of those down no QoS 1 publish is acknowledged.
      o.nodes > 1 ? `mqtt { listen: 127.0.0.1:${p.mqttPort}, stream_replicas: ${Math.min(3, o.nodes)} }` : `mqtt { listen: 127.0.0.1:${p.mqttPort} }`,
      `mappings = { "sensors.*.telemetry": "part.{{partition(${o.partitions},1)}}.sensors.{{wildcard(1)}}.telemetry" }`,
    ];
    if (o.nodes > 1) {
      const routes = ports.filter((_, j) => j !== i).map((q) => `nats-route://127.0.0.1:${q.clusterPort}`);
      lines.push(`cluster { name: edgelstm-test, listen: 127.0.0.1:${p.clusterPort}, routes: [${routes.join(', ')}] }`);
    }
    const conf = join(dir, 'nats.conf');
    writeFileSync(conf, `${lines.join('\n')}\n`);
    nodes.push({ name, ...p, conf, process: undefined as unknown as ChildProcess, log: () => '' });
  }
  await Promise.all(nodes.map((n) => startNode(n)));
  return nodes;
}

/** (Re)starts one node from its config, resolving once it accepts connections. */
export async function startNode(n: NatsNode): Promise<void> {
  const p = spawn(NATS_SERVER, ['-c', n.conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  p.stderr!.on('data', (b: Buffer) => {
    err += b.toString();
    if (err.length > 100_000) err = err.slice(-50_000);
  });
  n.process = p;
  n.log = () => err;
  for (let i = 0; ; i++) {
    if (p.exitCode !== null) throw new Error(`nats-server ${n.name} exited: ${err}`);
    if ((await accepts(n.port)) && (await accepts(n.mqttPort))) return;
    if (i > 200) throw new Error(`nats-server ${n.name} did not listen on ${n.port}/${n.mqttPort}: ${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function stopNode(n: NatsNode, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (n.process.exitCode !== null || n.process.signalCode !== null) return;
  const exited = new Promise((r) => n.process.once('exit', r));
  n.process.kill(signal);
  await exited;
}

function accepts(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    const s = connect(port, '127.0.0.1', () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}
