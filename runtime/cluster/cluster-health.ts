import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ClusterNode } from './cluster-node';

/** What /health of a cluster instance reports: who it is, what it owns, and its counters. */
export function clusterHealth(node: ClusterNode): Record<string, unknown> {
  return {
    status: 'ok',
    mode: 'cluster',
    group: node.opts.group,
    instance: node.opts.instance,
    members: node.members,
    partitions: node.opts.partitions,
    owned: node.owned,
    devices: node.devices,
    counters: node.counters,
    engine: node.engineBatches,
    starts: node.starts,
  };
}

/** Serves GET /health (JSON) on host:port; resolves with the bound port. A busy port is an error, not a silent headless run. */
export async function serveClusterHealth(node: ClusterNode, host: string, port: number): Promise<{ port: number; server: Server }> {
  const server = createServer((req, res) => {
    if (req.method === 'GET' && (req.url === '/health' || req.url === '/')) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify(clusterHealth(node))}\n`);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return { port: (server.address() as AddressInfo).port, server };
}
