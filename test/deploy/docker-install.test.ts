import t from 'tap';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

// The Docker image's install step, run for real (there is no Docker engine here): deploy/docker/rehearse.sh
// --install-only takes the final stage's `RUN npm ci --omit=dev ...` from the Dockerfile and runs it in an empty
// folder under NODE_ENV=production with NATIVE=true, on this machine's Node, then requires exactly this platform's
// onnxruntime-node binary and that it loads. A plain `npm install onnxruntime-node@<v>` there installs nothing
// (onnxruntime-node is a devDependency and the stage omits dev; issue 13): the step or this check fails.
// It fetches every package into an empty cache (about 125 MB), so it needs the npm registry: about 20-40 s.
const ROOT = join(__dirname, '..', '..');

const ping = spawnSync('npm', ['ping', '--fetch-retries=0', '--fetch-timeout=20000'], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 });
const skip = ping.status === 0 ? false : `the npm registry is not reachable (npm ping: rc ${ping.status}, ${(ping.stderr || ping.error?.message || '').trim().split('\n').pop()})`;

t.test('Dockerfile: the NATIVE=true install step installs onnxruntime-node with this platform binary only', { skip, timeout: 300_000 }, async (t) => {
  const r = spawnSync('bash', [join(ROOT, 'deploy/docker/rehearse.sh'), '--install-only'], { cwd: ROOT, encoding: 'utf8', timeout: 280_000 });
  const out = `${r.stdout}\n${r.stderr}`;
  t.equal(r.status, 0, `rehearse.sh --install-only exits 0\n${out}`);
  t.match(r.stdout, new RegExp(`onnxruntime-node \\S+ loads on ${process.platform}-${process.arch}`), 'the step loads the binary it keeps');
  t.match(r.stdout, new RegExp(`binaries left: node_modules/onnxruntime-node/bin/napi-v6/${process.platform}/${process.arch}/onnxruntime_binding\\.node $`, 'm'), 'one binary: this platform');
  t.match(r.stdout, /rehearsal ok \(install only\)/);
});
