import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from '../../runtime/cli/args';
import { RUN_SPECS, resolveServiceConfig } from '../../runtime/service/config';

// deploy/systemd and deploy/docker: what can be checked without systemd as PID 1 or a Docker engine.
const ROOT = join(__dirname, '..', '..');
const UNIT = readFileSync(join(ROOT, 'deploy/systemd/edgelstm.service'), 'utf8');
const ENV = readFileSync(join(ROOT, 'deploy/systemd/edgelstm.env'), 'utf8');
const DOCKERFILE = readFileSync(join(ROOT, 'deploy/docker/Dockerfile'), 'utf8');
const DOCKERIGNORE = readFileSync(join(ROOT, 'deploy/docker/Dockerfile.dockerignore'), 'utf8');
const CI = readFileSync(join(ROOT, '.ci/run'), 'utf8');

/** A unit file as section -> key -> values (a key may repeat). */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const s = /^\[(\w+)\]$/.exec(line);
    if (s) {
      current = new Map();
      sections.set(s[1]!, current);
      continue;
    }
    const kv = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (!kv || !current) throw new Error(`not a unit line: ${line}`);
    current.set(kv[1]!, [...(current.get(kv[1]!) ?? []), kv[2]!]);
  }
  return sections;
}

t.test('systemd unit: dedicated user, read-only system, state directory only, limits, restart', async (t) => {
  const unit = parseUnit(UNIT);
  const svc = unit.get('Service')!;
  const one = (k: string): string | undefined => svc.get(k)?.at(-1);
  t.equal(one('DynamicUser'), 'yes');
  t.equal(one('NoNewPrivileges'), 'yes');
  t.equal(one('CapabilityBoundingSet'), '');
  t.equal(one('ProtectSystem'), 'strict');
  t.equal(one('ProtectHome'), 'yes');
  t.equal(one('PrivateTmp'), 'yes');
  t.equal(one('StateDirectory'), 'edgelstm');
  // Nothing writable but the state directory: no ReadWritePaths beyond it.
  t.notOk(svc.has('ReadWritePaths'), 'StateDirectory is the only writable path');
  t.equal(one('Restart'), 'on-failure');
  t.match(one('MemoryMax'), /^\d+M$/);
  t.match(one('ExecStart'), /^\/usr\/local\/bin\/edgelstm run --config %E\/edgelstm\/config\.json --state-file %S\/edgelstm\/state\.bin$/);
  t.equal(one('EnvironmentFile'), '-/etc/edgelstm/edgelstm.env');
  t.equal(unit.get('Install')!.get('WantedBy')![0], 'multi-user.target');
  // Two settings that would break the service, with the reason in the file.
  t.notOk(svc.has('ProcSubset'), 'ONNX Runtime reads /proc/cpuinfo');
  t.notOk(svc.has('MemoryDenyWriteExecute'), "V8's JIT needs writable executable memory");
  t.match(UNIT, /Not ProcSubset=pid: ONNX Runtime reads \/proc\/cpuinfo/);
  // V8's heap limit sits below the cgroup limit.
  const heap = Number(/--max-old-space-size=(\d+)/.exec(one('Environment') ?? svc.get('Environment')!.join(' '))?.[1]);
  t.ok(heap > 0 && heap < parseInt(one('MemoryMax')!, 10), `heap ${heap} MB under MemoryMax`);
});

const analyze = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' }).status === 0;

t.test('systemd-analyze verify: no unknown key, no bad value; security exposure stays low', { skip: analyze ? false : 'systemd-analyze not installed' }, async (t) => {
  const dir = t.testdir();
  // verify insists that ExecStart exists: point it at this Node, the rest is the shipped unit.
  const unit = join(dir, 'edgelstm.service');
  writeFileSync(unit, UNIT.replace('ExecStart=/usr/local/bin/edgelstm', `ExecStart=${process.execPath}`));
  const v = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8', cwd: dir });
  t.equal(v.status, 0, v.stderr);
  t.equal(v.stderr.trim(), '', 'verify prints nothing: unknown keys and bad values are reported as warnings only');
  // The check above can fail: a misspelt key is reported.
  const bad = join(dir, 'bad.service');
  writeFileSync(bad, UNIT.replace('ExecStart=/usr/local/bin/edgelstm', `ExecStart=${process.execPath}`).replace('ProtectSystem=strict', 'ProtectSystm=strict'));
  t.match(spawnSync('systemd-analyze', ['verify', bad], { encoding: 'utf8', cwd: dir }).stderr, /Unknown key 'ProtectSystm'/);

  const s = spawnSync('systemd-analyze', ['security', '--offline=yes', unit], { encoding: 'utf8', cwd: dir });
  const exposure = Number(/Overall exposure level for edgelstm\.service: ([\d.]+)/.exec(s.stdout)?.[1]);
  t.ok(exposure <= 2, `exposure ${exposure} (0 safest, 10 most exposed; an unhardened service scores 9.6)`);
});

t.test('environment file and config example: accepted by `edgelstm run` as they are shipped', async (t) => {
  const vars = new Map<string, string>();
  for (const line of ENV.split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const m = /^([A-Z_][A-Z0-9_]*)=([^"'\s]*)$/.exec(line);
    t.ok(m, `KEY=VALUE without quotes or spaces (systemd and docker --env-file read it alike): ${line}`);
    if (m) vars.set(m[1]!, m[2]!);
  }
  t.equal(RUN_SPECS['password-env'].default, 'EDGELSTM_MQTT_PASSWORD');
  t.ok(vars.has('EDGELSTM_MQTT_PASSWORD'));

  const dir = t.testdir({ 'ca.crt': 'not checked here' });
  const cfgFile = join(dir, 'config.json');
  const shipped = JSON.parse(readFileSync(join(ROOT, 'deploy/systemd/config.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(cfgFile, JSON.stringify({ ...shipped, ca: join(dir, 'ca.crt') }));
  const { values } = parseArgs(['--config', cfgFile, '--state-file', '/var/lib/edgelstm/state.bin'], RUN_SPECS);
  const cfg = resolveServiceConfig(values, Object.fromEntries(vars));
  t.equal(cfg.password, 'change-me');
  t.equal(cfg.username, 'edgelstm-pi-01');
  t.equal(cfg.stateFile, '/var/lib/edgelstm/state.bin');
  t.equal(cfg.metricsHost, '127.0.0.1', 'metrics stay on loopback on a board');
});

/** Dockerfile instructions, continuation lines joined. */
function instructions(text: string): { op: string; args: string }[] {
  return text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const i = l.indexOf(' ');
      return { op: l.slice(0, i).toUpperCase(), args: l.slice(i + 1).trim() };
    });
}

t.test('Dockerfile: pinned bases, non-root, production dependencies without downloads, paths that exist', async (t) => {
  const ins = instructions(DOCKERFILE);
  const from = ins.filter((i) => i.op === 'FROM');
  t.equal(from.length, 2, 'a build stage and the image');
  const version = /^ARG NODE_VERSION=(\S+)$/m.exec(DOCKERFILE)?.[1];
  // The image's Node is an LTS line the tests run on: the Node 24 .ci/run installs for its second `npm test`.
  t.match(version, /^\d+\.\d+\.\d+$/, 'a full version, not a moving tag');
  t.equal(version, /^NODE24=(\S+)$/m.exec(CI)?.[1], 'the Node .ci/run tests on');
  t.equal(Number(version!.split('.')[0]) % 2, 0, 'an even major: an LTS line');
  for (const f of from) t.match(f.args, /node:\$\{NODE_VERSION\}-bookworm-slim/, 'a pinned, multi-arch official base');
  t.match(from[0]!.args, /^--platform=\$BUILDPLATFORM /, 'compiled once on the builder');

  const last = ins.slice(ins.indexOf(from[1]!));
  const user = last.filter((i) => i.op === 'USER').at(-1);
  t.ok(user, 'USER in the final stage');
  t.notMatch(user!.args, /^(root|0)(:|$)/, 'not root');
  t.ok(last.indexOf(user!) < last.findIndex((i) => i.op === 'ENTRYPOINT'), 'USER before ENTRYPOINT');
  const runs = last.filter((i) => i.op === 'RUN').map((i) => i.args).join('\n');
  t.match(runs, /npm ci --omit=dev/);
  // onnxruntime-node comes in without its install script (which only downloads CUDA libraries), at the tested version,
  // one platform kept. It is a devDependency and the stage runs under NODE_ENV=production, so it is made a dependency
  // of the image's package.json first: `npm install onnxruntime-node@<v>` alone installs nothing there (issue 13).
  // docker-install.test.ts runs the step itself.
  t.match(DOCKERFILE, /^ENV NODE_ENV=production$/m);
  t.match(runs, /ORT_VERSION="\$\(node -p "require\('\.\/package\.json'\)\.devDependencies\['onnxruntime-node'\]"\)"/);
  t.match(runs, /npm pkg delete devDependencies\s+&& npm pkg set "dependencies\.onnxruntime-node=\$ORT_VERSION"\s+&& npm install --no-save --ignore-scripts /);
  t.notMatch(runs, /npm install [^&]*onnxruntime-node@/, 'no install of onnxruntime-node by name while it is still a devDependency');
  t.match(runs, /KEEP="\$\(node -p "process\.platform \+ '\/' \+ process\.arch"\)"/, 'the binary kept is the one of the Node that runs the step');
  t.match(runs, /npm ls --omit=dev --all/, 'its dependencies resolve');
  t.match(runs, /node -e "require\('onnxruntime-node'\)/, 'its binary loads');
  t.notMatch(runs, /\|\| true/, 'no failure hidden');

  // Every COPY source exists and is not filtered out of the build context.
  const ignored = DOCKERIGNORE.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  for (const c of ins.filter((i) => i.op === 'COPY' && !i.args.startsWith('--from'))) {
    const parts = c.args.split(/\s+/);
    for (const src of parts.slice(0, -1)) {
      if (src === '.') continue;
      t.ok(existsSync(join(ROOT, src)), `COPY ${src} exists`);
      t.notOk(ignored.includes(src), `COPY ${src} is in the build context`);
    }
  }
  for (const must of ['node_modules', 'dist', '.git']) t.ok(ignored.includes(must), `${must} stays out of the context`);

  const entry = JSON.parse(last.find((i) => i.op === 'ENTRYPOINT')!.args) as string[];
  t.same(entry.slice(0, 1), ['node']);
  t.equal(entry[1], '/app/dist/runtime/cli/main.js');
  t.ok(existsSync(join(ROOT, 'dist/runtime/cli/main.js')), 'what ENTRYPOINT runs is what `npm run build` makes');
  const expose = last.find((i) => i.op === 'EXPOSE')!.args;
  t.equal(Number(expose), RUN_SPECS['metrics-port'].default, 'EXPOSE is the metrics port');
  t.match(last.find((i) => i.op === 'HEALTHCHECK')!.args, /127\.0\.0\.1:9464\/health/);
  const cmd = JSON.parse(last.find((i) => i.op === 'CMD')!.args) as string[];
  // The default command is valid for `edgelstm run`.
  const { values } = parseArgs(cmd.slice(1), RUN_SPECS);
  t.equal(values['state-file'], '/var/lib/edgelstm/state.bin');
  t.match(DOCKERFILE, /VOLUME \["\/var\/lib\/edgelstm"\]/);
});
