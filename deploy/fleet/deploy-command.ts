import { createHash, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { hostname } from 'node:os';
import { EdgeLstmError, loadModel, parseSignatureFile } from '../../runtime/index';
import type { OptionSpecs } from '../../runtime/cli/args';
import { defineCommand } from '../../runtime/cli/command';
import { loadInventory } from './inventory';
import { planRollout } from './planner';
import { countOutcomes, Progress, summaryTable } from './report';
import { FAILED, rollout, type DeviceResult } from './rollout';
import type { Release } from './target';

const SPECS = {
  inventory: { type: 'string', description: 'fleet.json: the devices', required: true, placeholder: 'fleet.json' },
  model: { type: 'string', description: 'the model to roll out (.onnx)', placeholder: 'file' },
  flow: { type: 'string', description: 'Node-RED flows to deploy to node-red devices (a GET /flows export)', placeholder: 'flows.json' },
  signature: { type: 'string', description: 'base64 ed25519 signature of the model (devices with a public key require one)', placeholder: 'file' },
  canary: { type: 'number', description: 'canary devices (first N in inventory order; devices in group "canary" take precedence)', integer: true, min: 0 },
  concurrency: { type: 'number', description: 'devices worked on at once', default: 4, integer: true, min: 1, max: 256 },
  'timeout-ms': { type: 'number', description: 'per device and step: read, apply and confirm, restore', default: 30000, integer: true, min: 100 },
  'connect-timeout-ms': { type: 'number', description: 'MQTT broker connect limit', default: 5000, integer: true, min: 100 },
  only: { type: 'list', description: 'deploy only to these device names' },
  'dry-run': { type: 'boolean', description: 'read every device and say what would change; change nothing', default: false },
  'serve-host': { type: 'string', description: 'address of the built-in model server devices download from', default: '127.0.0.1' },
  'serve-port': { type: 'number', description: 'its port (0: any free port)', default: 0, integer: true, min: 0, max: 65535 },
  'model-url': { type: 'string', description: 'the model is hosted here instead (no built-in server)', placeholder: 'url' },
  json: { type: 'boolean', description: 'print the results as JSON instead of a table', default: false },
} satisfies OptionSpecs;

const USAGE = 'edgelstm deploy --inventory fleet.json --model MODEL.onnx [--flow FLOWS.json] [options]';

/** Serves the one model file at /models/<sha256>.onnx, nothing else. */
async function serveModel(bytes: Uint8Array, sha: string, host: string, port: number): Promise<{ server: Server; url: string }> {
  const path = `/models/${sha}.onnx`;
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === path) {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': bytes.length });
      res.end(bytes);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as { port: number }).port;
  const advertised = host === '0.0.0.0' || host === '::' ? hostname() : host.includes(':') ? `[${host}]` : host;
  return { server, url: `http://${advertised}:${bound}${path}` };
}

function readSignature(file: string): string {
  // A .sig file from `edgelstm sign`, a raw 64-byte signature, or its base64 text.
  try {
    return parseSignatureFile(readFileSync(file), file).signature.toString('base64');
  } catch (e) {
    throw new EdgeLstmError('E_CONFIG', `option --signature: ${file} holds neither a .sig file, a 64-byte ed25519 signature nor its base64 (${(e as Error).message})`, { field: 'signature', file });
  }
}

function readFlows(file: string): unknown[] {
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new EdgeLstmError('E_CONFIG', `option --flow: cannot read ${file}: ${(e as Error).message}`, { field: 'flow', file });
  }
  const flows = Array.isArray(v) ? v : (v as { flows?: unknown }).flows;
  if (!Array.isArray(flows)) throw new EdgeLstmError('E_CONFIG', `option --flow: ${file} is neither a flows array nor {"flows": [...]}`, { field: 'flow', file });
  return flows;
}

export const main = defineCommand({ usage: USAGE, options: SPECS }, async (o) => {
  let server: Server | undefined;
  try {
    if (o.model === undefined && o.flow === undefined) throw new EdgeLstmError('E_CONFIG', 'give --model, --flow or both', { field: 'model' });
    if (o.signature !== undefined && o.model === undefined) throw new EdgeLstmError('E_CONFIG', 'option --signature needs --model', { field: 'signature' });
    const inventory = loadInventory(o.inventory);
    const plan = planRollout(inventory.devices, o.canary, o.only);
    const release: Release = { deployId: randomUUID() };
    if (o.flow !== undefined) release.flows = readFlows(o.flow);
    if (o.model !== undefined) {
      const bytes = readFileSync(o.model);
      // Checked here, before any device sees it: a broken file never reaches the fleet.
      const model = await loadModel(bytes, { backend: 'reference', name: o.model });
      await model.release();
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      let url = o['model-url'];
      if (url === undefined && !o['dry-run']) ({ server, url } = await serveModel(bytes, sha256, o['serve-host'], o['serve-port']));
      release.model = { bytes, sha256, id: model.id, version: model.metadata.version, url: url ?? '(dry run)', ...(o.signature !== undefined ? { signature: readSignature(o.signature) } : {}) };
      process.stderr.write(`model ${model.id} ${sha256.slice(0, 12)} served at ${release.model.url}\n`);
    }
    const progress = new Progress(process.stderr, plan.canary.length + plan.rest.length);
    const results: DeviceResult[] = await rollout({
      plan,
      release,
      concurrency: o.concurrency,
      timeoutMs: o['timeout-ms'],
      connectTimeoutMs: o['connect-timeout-ms'],
      dryRun: o['dry-run'],
      onEvent: (e) => progress.on(e),
    });
    progress.end();
    if (o.json) process.stdout.write(`${JSON.stringify({ deployId: release.deployId, model: release.model ? { id: release.model.id, sha256: release.model.sha256 } : null, results }, null, 2)}\n`);
    else process.stdout.write(`${summaryTable(results)}\n${countOutcomes(results)}\n`);
    return results.some((r) => FAILED.has(r.outcome)) ? 1 : 0;
  } finally {
    if (server) {
      server.closeAllConnections();
      await new Promise((r) => server!.close(r));
    }
  }
});

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => (process.exitCode = code));
}
