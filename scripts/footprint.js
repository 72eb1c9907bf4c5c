#!/usr/bin/env node
// What an install of edgelstm costs, per platform: the packed package installed with Node-RED's palette
// command into a fresh directory with an empty npm cache (so every tarball is fetched), then onnxruntime-node
// added as the README's native install does. Download: the tarballs' bytes (from the cache, by the lockfile's
// integrity); unpacked: the files' bytes. MB = 10^6 bytes. Prints the README's table.
//   npm run footprint            (needs the npm registry; about a minute)
'use strict';
const { execFileSync } = require('node:child_process');
const { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');

const args = process.argv.slice(2);
if (args.includes('--help') || args.includes('-h')) {
  console.log('usage: node scripts/footprint.js   (npm run footprint builds first)\nPacks edgelstm, installs it as the Node-RED palette does into a fresh directory with an empty npm cache,\nadds onnxruntime-node, and prints the README\'s footprint table. Needs the npm registry; about a minute.');
  process.exit(0);
}
if (args.length > 0) {
  console.error(`footprint.js takes no arguments (got ${args.join(' ')}); --help says what it does`);
  process.exit(2);
}

const root = join(__dirname, '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const NATIVE = `onnxruntime-node@${pkg.devDependencies['onnxruntime-node']}`;
const PALETTE = ['install', '--no-audit', '--no-update-notifier', '--no-fund', '--save', '--save-prefix=~', '--omit=dev', '--engine-strict'];
// The platforms onnxruntime-node carries a binary for, and two it does not (where auto picks wasm).
const PLATFORMS = [
  ['linux', 'x64', 'x86-64 Linux, glibc'],
  ['linux', 'arm64', 'Raspberry Pi 4/5 (64-bit OS), Jetson'],
  ['darwin', 'arm64', 'Apple silicon'],
  ['win32', 'x64', 'Windows x64'],
  ['win32', 'arm64', 'Windows arm64'],
];

const work = mkdtempSync(join(tmpdir(), 'edgelstm-footprint-'));
const cache = join(work, 'cache');
const npm = (args, cwd) => execFileSync('npm', [...args, '--cache', cache], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** Bytes of every file under `dir`. */
function bytes(dir) {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) n += bytes(p);
    else if (e.isFile()) n += statSync(p).size;
  }
  return n;
}

/** The size of a tarball in the npm cache, found by its integrity. */
function tarball(integrity) {
  const [algo, b64] = integrity.split(' ')[0].split('-');
  const hex = Buffer.from(b64, 'base64').toString('hex');
  const p = join(cache, '_cacache', 'content-v2', algo, hex.slice(0, 2), hex.slice(2, 4), hex.slice(4));
  return existsSync(p) ? statSync(p).size : NaN;
}

/** Every installed package of `dir`: its unpacked and download bytes. The tarball named `local` is measured as a file. */
function packages(dir, local) {
  const lock = JSON.parse(readFileSync(join(dir, 'package-lock.json'), 'utf8'));
  const out = new Map();
  for (const [where, e] of Object.entries(lock.packages)) {
    if (where === '' || !existsSync(join(dir, where))) continue;
    const download = e.resolved && e.resolved.startsWith('file:') ? statSync(local).size : tarball(e.integrity ?? '');
    out.set(where, { unpacked: bytes(join(dir, where)), download });
  }
  return out;
}

const sum = (m, f = () => true) => [...m].filter(([k]) => f(k)).reduce((a, [, v]) => ({ unpacked: a.unpacked + v.unpacked, download: a.download + v.download }), { unpacked: 0, download: 0 });
const mb = (n) => (n / 1e6).toFixed(1);

try {
  const packed = JSON.parse(execFileSync('npm', ['pack', '--pack-destination', work, '--json'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }));
  const file = join(work, packed[0].filename);
  const app = join(work, 'user');
  require('node:fs').mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'node-red-project', version: '0.0.1', private: true }));
  npm([...PALETTE, file], app);
  const base = packages(app, file);
  const total = sum(base);
  const wasm = bytes(join(app, 'node_modules/edgelstm/dist/vendor/onnxruntime-web')) + bytes(join(app, 'node_modules/onnxruntime-common'));

  // The native opt-in, as the README gives it (its install script skipped: it only downloads CUDA libraries).
  npm(['install', '--no-audit', '--no-fund', '--ignore-scripts', NATIVE], app);
  const withNative = packages(app, file);
  const added = sum(new Map([...withNative].filter(([k]) => !base.has(k))));
  const bin = join(app, 'node_modules/onnxruntime-node/bin/napi-v6');
  const allBins = bytes(bin);

  const rows = [];
  rows.push(`| platform | auto picks | default install: download / unpacked | of it, the inference runtime | + ${NATIVE}: download / unpacked | + ${NATIVE}, this platform's binary only |`);
  rows.push('|---|---|---|---|---|---|');
  const dflt = `${mb(total.download)} / ${mb(total.unpacked)} MB`;
  for (const [os, arch, what] of PLATFORMS) {
    const own = existsSync(join(bin, os, arch)) ? bytes(join(bin, os, arch)) : 0;
    const slimNative = added.unpacked - allBins + own;
    rows.push(`| ${os}-${arch} (${what}) | native if installed, else wasm | ${dflt} | ${mb(wasm)} MB (wasm) | ${mb(total.download + added.download)} / ${mb(total.unpacked + added.unpacked)} MB | ${mb(total.unpacked + slimNative)} MB unpacked (runtime ${mb(slimNative)} MB native) |`);
  }
  for (const what of ['linux-arm (32-bit Raspberry Pi OS)', 'linux musl (Alpine, the Node-RED Docker image)']) {
    rows.push(`| ${what} | wasm | ${dflt} | ${mb(wasm)} MB (wasm) | no binary: stays wasm | - |`);
  }
  // For comparison, the shape before the wasm runtime shipped inside: both onnxruntime packages as dependencies.
  const WEB = `onnxruntime-web@${pkg.devDependencies['onnxruntime-web']}`;
  npm(['install', '--no-audit', '--no-fund', '--ignore-scripts', WEB], app);
  const old = sum(packages(app, file));
  const edgelstm = base.get('node_modules/edgelstm');
  console.log(`edgelstm ${pkg.version} footprint, ${new Date().toISOString().slice(0, 10)}, npm ${npm(['--version'], app).trim()}: ${base.size} packages in the default install (edgelstm itself ${mb(edgelstm.download)} MB download / ${mb(edgelstm.unpacked)} MB unpacked); ${NATIVE} adds ${withNative.size - base.size} packages\n`);
  console.log(rows.join('\n'));
  console.log(`\nWith ${NATIVE} and ${WEB} both as dependencies (edgelstm's shape before): ${mb(old.download)} MB download, ${mb(old.unpacked)} MB unpacked on every platform.`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
