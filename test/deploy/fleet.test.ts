/**
 * `edgelstm deploy` against a fleet of real processes on loopback: two
 * Node-RED instances (Admin API with bearer tokens, the edgelstm-admin
 * endpoints), two `edgelstm run` services and an edgelstm test device on an
 * MQTT broker (one service refuses the model: it requires a signature; the
 * test device reported once and went offline) and
 * one device whose broker is down, and a Node-RED that is down.
 */
import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { makeTestModel, tempDir } from '../helpers/models';
import { freePort } from '../../runtime/net/free-port';

const ROOT = resolve(__dirname, '../..');
// Children run TypeScript the way tap runs the tests (its loader); tap's coverage hooks reach into
// every node child it spawns and break ts-node's CommonJS hook.
const TS_ARGS = ['--import', pathToFileURL(join(ROOT, 'node_modules/@tapjs/typescript/dist/esm/import.mjs')).href];
const TOKEN = 'fleet-test-token';
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');


// tap's loader hooks (NODE_OPTIONS) would make the children load .ts as ESM; they bring their own.
const CHILD_ENV = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_OPTIONS' && !k.startsWith('TAP') && !k.startsWith('_TAPJS')));
const children: ChildProcess[] = [];
function start(cmd: string, args: string[], readyText: RegExp, what: string, timeoutMs = 60_000): Promise<ChildProcess> {
  const child = spawn(cmd, args, { cwd: ROOT, env: CHILD_ENV, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  return new Promise((resolveStart, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not start:\n${out}`)), timeoutMs);
    const onData = (d: Buffer): void => {
      out += d.toString();
      if (readyText.test(out)) {
        clearTimeout(timer);
        resolveStart(child);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited (${code}):\n${out}`));
    });
  });
}

function stopAll(): Promise<void> {
  return Promise.all(
    children.map(
      (c) =>
        new Promise<void>((r) => {
          if (c.exitCode !== null || c.signalCode !== null) return r();
          const kill = setTimeout(() => c.kill('SIGKILL'), 3000);
          c.once('exit', () => {
            clearTimeout(kill);
            r();
          });
          c.kill('SIGTERM');
        }),
    ),
  ).then(() => undefined);
}

const flowsOld = [
  { id: 'tab1', type: 'tab', label: 'sensors' },
  { id: 'inj1', type: 'inject', z: 'tab1', name: 'old', repeat: '', once: false, topic: '', payload: '1', payloadType: 'num', wires: [['dbg1']] },
  { id: 'dbg1', type: 'debug', z: 'tab1', name: 'out', active: true, complete: 'payload', wires: [] },
];
const flowsNew = [flowsOld[0], { ...flowsOld[1], name: 'new', payload: '2' }, flowsOld[2]];

async function adminApi(url: string, method: string, path: string, body?: Uint8Array | string, headers: Record<string, string> = {}): Promise<unknown> {
  const res = await fetch(`${url}${path}`, { method, headers: { Authorization: `Bearer ${TOKEN}`, 'Node-RED-API-Version': 'v2', ...headers }, ...(body !== undefined ? { body: typeof body === 'string' ? body : Buffer.from(body) } : {}) });
  if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${await res.text()}`);
  return res.json() as Promise<unknown>;
}

interface Run {
  code: number | null;
  stderr: string;
  results: { device: string; outcome: string; canary: boolean; error?: string; before?: { sha256: string | null }; after?: { sha256: string | null } }[];
}

function deploy(args: string[]): Promise<Run> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [...TS_ARGS, join(ROOT, 'runtime/cli/main.ts'), 'deploy', ...args, '--json'], { cwd: ROOT, env: CHILD_ENV, stdio: ['ignore', 'pipe', 'pipe'] });
    children.push(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('exit', (code) => {
      try {
        resolveRun({ code, stderr, results: (JSON.parse(stdout) as { results: Run['results'] }).results });
      } catch {
        reject(new Error(`deploy printed no JSON (exit ${code}):\n${stdout}\n${stderr}`));
      }
    });
  });
}

t.test('deploy to a fleet of real processes: canary rollback, partial failure, idempotence', async (t) => {
  t.teardown(stopAll);
  const dir = tempDir('edgelstm-fleet-');
  const oldModel = makeTestModel({ seed: 1 }).bytes;
  const newModel = makeTestModel({ seed: 2 }).bytes;
  const oldSha = sha(oldModel);
  const newSha = sha(newModel);
  writeFileSync(join(dir, 'old.onnx'), oldModel);
  writeFileSync(join(dir, 'new.onnx'), newModel);
  writeFileSync(join(dir, 'flows-new.json'), JSON.stringify(flowsNew));
  const { publicKey } = generateKeyPairSync('ed25519');
  writeFileSync(join(dir, 'device.pub.pem'), publicKey.export({ type: 'spki', format: 'pem' }));

  // The MQTT broker the edgelstm devices use.
  const aedes = await Aedes.createBroker();
  const broker = createNetServer(aedes.handle);
  await new Promise<void>((r) => broker.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => aedes.close(() => broker.close(() => r()))));
  const brokerUrl = `mqtt://127.0.0.1:${(broker.address() as AddressInfo).port}`;
  const deadUrl = `mqtt://127.0.0.1:${await freePort()}`;

  // The Node-RED admin plugin as built (dist/nodes/edgelstm-admin: the .js beside its .html), which uses the runtime's acquisition module.
  const nodesDir = join(ROOT, 'dist/nodes/edgelstm-admin');

  const nodeReds: { name: string; url: string }[] = [];
  const starting: Promise<unknown>[] = [];
  for (const name of ['nr-01', 'nr-02']) {
    const userDir = join(dir, name);
    mkdirSync(userDir);
    writeFileSync(join(userDir, 'flows.json'), JSON.stringify(flowsOld));
    const settings = join(userDir, 'settings.js');
    writeFileSync(
      settings,
      `module.exports = {
  uiHost: '127.0.0.1', flowFile: 'flows.json', credentialSecret: false, nodesDir: ${JSON.stringify([nodesDir])},
  logging: { console: { level: 'info' } }, editorTheme: { tours: false }, diagnostics: { enabled: false }, telemetry: { enabled: false },
  adminAuth: { type: 'credentials', users: [], tokens: (token) => Promise.resolve(token === ${JSON.stringify(TOKEN)} ? { user: 'deployer', permissions: '*' } : null) },
  edgelstm: { allowUnsignedModels: true },
};\n`,
    );
    const port = await freePort();
    nodeReds.push({ name, url: `http://127.0.0.1:${port}` });
    starting.push(start(process.execPath, [join(ROOT, 'node_modules/node-red/red.js'), '--userDir', userDir, '--port', String(port), '--settings', settings], /Started flows|Server now running/, name));
  }
  const device = (name: string, extra: string[] = []): Promise<ChildProcess> =>
    start(process.execPath, [...TS_ARGS, join(ROOT, 'deploy/fleet/test-device.ts'), '--broker', brokerUrl, '--name', name, '--model', join(dir, 'old.onnx'), ...extra], new RegExp(`ready ${name}`), name);
  // ed-01 and ed-02 are the product itself, `edgelstm run` (the compiled CLI); ed-04 a small test device.
  const service = (name: string, extra: string[] = []): Promise<ChildProcess> =>
    start(process.execPath, [join(ROOT, 'dist/runtime/cli/main.js'), 'run', '--broker', brokerUrl, '--protocol', '3.1.1', '--name', name, '--client-id', `edgelstm-${name}`, '--model', join(dir, 'old.onnx'), '--metrics-port', '0', '--watch-model=false', '--input', `sensors/${name}/{device}`, ...extra], /edgelstm: connected to/, name);
  // The deploy below is unsigned and served over http on loopback: ed-01 is told to accept that, ed-02 requires a signature.
  starting.push(service('ed-01', ['--allow-unsigned-models', '--allow-http-models']), service('ed-02', ['--model-public-key', join(dir, 'device.pub.pem'), '--allow-http-models']), device('ed-04'));
  const [, , , , ed04] = (await Promise.all(starting)) as ChildProcess[];
  // ed-04 reported once (a retained status) and then lost power: its broker is up, the device is not.
  await new Promise((r) => setTimeout(r, 300));
  ed04!.kill('SIGKILL');
  // The Node-RED instances start on the old model, sent through the same endpoint.
  for (const nr of nodeReds) await adminApi(nr.url, 'POST', '/edgelstm/model', oldModel, { 'X-Edgelstm-Sha256': oldSha, 'X-Edgelstm-Version': 'test@1.0.0', 'Content-Type': 'application/octet-stream' });

  // A watcher reads what the devices report and what is retained for them.
  const watcher = mqtt.connect(brokerUrl);
  t.teardown(() => new Promise<void>((r) => watcher.end(true, {}, () => r())));
  const retained = new Map<string, { sha256: string }>();
  watcher.on('message', (topic, p) => {
    if (p.length) retained.set(topic, JSON.parse(p.toString()) as { sha256: string });
  });
  await new Promise<void>((r) => watcher.on('connect', () => watcher.subscribe('edgelstm/+/+/model', () => r())));
  const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 300));
  const edState = (name: string): { running?: string; retained?: string } => ({ running: retained.get(`edgelstm/${name}/status/model`)?.sha256, retained: retained.get(`edgelstm/${name}/control/model`)?.sha256 });
  const nrState = async (url: string): Promise<{ sha256: string | null; flows: string }> => {
    const m = (await adminApi(url, 'GET', '/edgelstm/model')) as { sha256: string | null };
    const f = (await adminApi(url, 'GET', '/flows')) as { flows: { name?: string }[] };
    return { sha256: m.sha256, flows: f.flows.find((n) => (n as { id?: string }).id === 'inj1')?.name ?? '?' };
  };

  const inventory = (canary: string): string => {
    const file = join(dir, `fleet-${canary}.json`);
    const g = (n: string): { group?: string } => (canary.split(',').includes(n) ? { group: 'canary' } : {});
    writeFileSync(
      file,
      JSON.stringify({
        defaults: { token: TOKEN },
        devices: [
          { name: 'ed-01', kind: 'edgelstm', mqtt: brokerUrl, ...g('ed-01') },
          { name: 'nr-01', kind: 'node-red', url: nodeReds[0]!.url, ...g('nr-01') },
          { name: 'ed-02', kind: 'edgelstm', mqtt: brokerUrl, ...g('ed-02') },
          { name: 'nr-02', kind: 'node-red', url: nodeReds[1]!.url, ...g('nr-02') },
          { name: 'ed-03', kind: 'edgelstm', mqtt: deadUrl, ...g('ed-03') },
          { name: 'ed-04', kind: 'edgelstm', mqtt: brokerUrl, ...g('ed-04') },
          { name: 'nr-03', kind: 'node-red', url: deadUrl.replace('mqtt:', 'http:'), ...g('nr-03') },
        ],
      }),
    );
    return file;
  };
  const common = ['--model', join(dir, 'new.onnx'), '--flow', join(dir, 'flows-new.json'), '--timeout-ms', '6000', '--connect-timeout-ms', '1500', '--concurrency', '3'];
  const outcomes = (r: Run): Record<string, string> => Object.fromEntries(r.results.map((x) => [x.device, x.outcome]));

  await t.test('dry run: says what would change, changes nothing', async (t) => {
    const r = await deploy(['--inventory', inventory('none'), ...common, '--dry-run']);
    t.same(outcomes(r), { 'ed-01': 'would-update', 'nr-01': 'would-update', 'ed-02': 'would-update', 'nr-02': 'would-update', 'ed-03': 'unreachable', 'ed-04': 'would-update', 'nr-03': 'unreachable' }, r.stderr);
    t.equal(r.code, 1, 'an unreachable device fails the run');
    await settle();
    t.same(edState('ed-01'), { running: oldSha, retained: undefined });
    t.same(await nrState(nodeReds[0]!.url), { sha256: oldSha, flows: 'old' });
  });

  await t.test('a canary refuses the model: the other canary is rolled back, nothing else is touched', async (t) => {
    const r = await deploy(['--inventory', inventory('ed-02,nr-01'), ...common]);
    t.equal(r.code, 1);
    t.same(outcomes(r), { 'nr-01': 'rolled-back', 'ed-02': 'failed', 'ed-01': 'skipped', 'nr-02': 'skipped', 'ed-03': 'skipped', 'ed-04': 'skipped', 'nr-03': 'skipped' }, r.stderr);
    t.match(r.results.find((x) => x.device === 'ed-02')!.error, /unsigned/);
    t.match(r.stderr, /rolling back 1 device/);
    await settle();
    t.same(await nrState(nodeReds[0]!.url), { sha256: oldSha, flows: 'old' }, 'canary nr-01 back on the old model and flows');
    t.same(await nrState(nodeReds[1]!.url), { sha256: oldSha, flows: 'old' });
    t.same(edState('ed-01'), { running: oldSha, retained: undefined }, 'ed-01 never got a request');
    t.same(edState('ed-02'), { running: oldSha, retained: oldSha }, 'ed-02 runs the old model and its retained request says so');
  });

  const expectAfterRollout = async (t: { same(a: unknown, b: unknown, m: string): boolean }): Promise<void> => {
    await settle();
    t.same(edState('ed-01'), { running: newSha, retained: newSha }, 'ed-01 runs and is asked for the new model');
    t.same(edState('ed-02'), { running: oldSha, retained: oldSha }, 'ed-02 runs and is asked for the old model');
    t.same(edState('ed-04'), { running: oldSha, retained: oldSha }, 'offline ed-04: its retained request put back, so it stays on the old model when it returns');
    for (const nr of nodeReds) t.same(await nrState(nr.url), { sha256: newSha, flows: 'new' }, nr.name);
  };

  await t.test('canary passes: the rest roll out; the refusing and the unreachable device are reported', async (t) => {
    const r = await deploy(['--inventory', inventory('ed-01'), ...common]);
    t.equal(r.code, 1);
    t.same(outcomes(r), { 'ed-01': 'updated', 'nr-01': 'updated', 'ed-02': 'failed', 'nr-02': 'updated', 'ed-03': 'unreachable', 'ed-04': 'failed', 'nr-03': 'unreachable' }, r.stderr);
    t.match(r.results.find((x) => x.device === 'ed-04')!.error, /timed out after 6000 ms waiting for ed-04 to report/);
    t.match(r.stderr, /ed-03 \(edgelstm\): unreachable - broker mqtt:\/\/127\.0\.0\.1:\d+ unreachable/);
    const ed1 = r.results.find((x) => x.device === 'ed-01')!;
    t.same([ed1.canary, ed1.before?.sha256, ed1.after?.sha256], [true, oldSha, newSha]);
    await expectAfterRollout(t);
  });

  await t.test('a second run changes nothing', async (t) => {
    const nrRevs = await Promise.all(nodeReds.map(async (nr) => ((await adminApi(nr.url, 'GET', '/flows')) as { rev: string }).rev));
    const r = await deploy(['--inventory', inventory('ed-01'), ...common]);
    t.same(outcomes(r), { 'ed-01': 'unchanged', 'nr-01': 'unchanged', 'ed-02': 'failed', 'nr-02': 'unchanged', 'ed-03': 'unreachable', 'ed-04': 'failed', 'nr-03': 'unreachable' }, r.stderr);
    t.same(await Promise.all(nodeReds.map(async (nr) => ((await adminApi(nr.url, 'GET', '/flows')) as { rev: string }).rev)), nrRevs, 'flows not redeployed');
    await expectAfterRollout(t);
    const healthy = await deploy(['--inventory', inventory('ed-01'), ...common, '--only', 'ed-01,nr-01,nr-02']);
    t.equal(healthy.code, 0, 'nothing to do on the healthy devices: exit 0');
  });
});
