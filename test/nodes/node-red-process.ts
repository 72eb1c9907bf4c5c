import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { freePort } from '../../runtime/net/free-port';

export { freePort };

export const ROOT = resolve(__dirname, '..', '..');
/** The Node-RED the end-to-end and editor tests run: the project's (4.1), or another one's folder (.ci/run: Node-RED 5). */
export const NODE_RED_DIR = process.env['EDGELSTM_NODE_RED_DIR'] ?? join(ROOT, 'node_modules', 'node-red');
const RED_JS = join(NODE_RED_DIR, 'red.js');


// tap's loader hooks (NODE_OPTIONS) would make the child load .ts hooks it does not need.
export const CHILD_ENV: NodeJS.ProcessEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => k !== 'NODE_OPTIONS' && !k.startsWith('TAP') && !k.startsWith('_TAPJS')),
);

/** A settings.js for a quiet, local, unauthenticated test instance. */
export function writeSettings(userDir: string): string {
  mkdirSync(userDir, { recursive: true });
  const file = join(userDir, 'settings.js');
  writeFileSync(
    file,
    `module.exports = {
  uiHost: '127.0.0.1',
  flowFile: 'flows.json',
  credentialSecret: false,
  logging: { console: { level: 'info', metrics: false, audit: false } },
  editorTheme: { tours: false, projects: { enabled: false } },
  diagnostics: { enabled: false },
  // Node-RED 4.1+ asks on first load whether to check for updates (a dialog over the editor): answered here.
  telemetry: { enabled: false, updateNotification: false },
  externalModules: { autoInstall: false, palette: { allowInstall: false } }
};\n`,
  );
  return file;
}

export interface NodeRedProcess {
  url: string;
  child: ChildProcess;
  /** Everything the process printed so far. */
  log(): string;
  /** SIGINT (Node-RED closes its nodes), SIGKILL after 10 s. */
  stop(): Promise<void>;
}

/** Starts node-red/red.js from the project's node_modules on a user directory; resolves once flows started. */
export async function startNodeRed(userDir: string, port: number, timeoutMs = 60_000): Promise<NodeRedProcess> {
  const settings = writeSettings(userDir);
  const child = spawn(process.execPath, [RED_JS, '-u', userDir, '-p', String(port), '-s', settings], { cwd: userDir, env: CHILD_ENV, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const stop = (): Promise<void> =>
    new Promise<void>((r) => {
      if (child.exitCode !== null || child.signalCode !== null) return r();
      const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.once('exit', () => {
        clearTimeout(kill);
        r();
      });
      child.kill('SIGINT');
    });
  await new Promise<void>((resolveStart, reject) => {
    const timer = setTimeout(() => reject(new Error(`Node-RED did not start in ${timeoutMs} ms:\n${out}`)), timeoutMs);
    const onData = (d: Buffer): void => {
      out += d.toString();
      if (/Started flows/.test(out)) {
        clearTimeout(timer);
        resolveStart();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Node-RED exited (${code}):\n${out}`));
    });
  });
  return { url: `http://127.0.0.1:${port}`, child, log: () => out, stop };
}

/** A full deploy through the Admin API. */
export async function deployFlows(url: string, flows: unknown[]): Promise<void> {
  const res = await fetch(`${url}/flows`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'Node-RED-Deployment-Type': 'full' },
    body: JSON.stringify(flows),
  });
  if (res.status !== 204 && res.status !== 200) throw new Error(`deploy: HTTP ${res.status} ${await res.text()}`);
}

/** Log lines at warn or error level that mention edgelstm. */
export function edgelstmWarnings(log: string): string[] {
  return log.split('\n').filter((l) => /\[(warn|error)\]/.test(l) && /edgelstm/i.test(l));
}

/** The example flow with its broker node pointed at host:port. */
export function withBroker(flows: Record<string, unknown>[], port: number): Record<string, unknown>[] {
  return flows.map((n) => (n['type'] === 'mqtt-broker' ? { ...n, broker: '127.0.0.1', port: String(port) } : n));
}
