import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

// What `npm pack` (and so `npm publish` and the palette) ships: no source maps, since the sources they point to
// do not ship (issue 13). tsc writes maps only when tsconfig asks; scripts/vendor-ort-wasm.js strips the comments
// from the onnxruntime-web files it copies. Reads the package's file list; needs no network, a few seconds.
const ROOT = join(__dirname, '..');
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };

interface Packed {
  files: { path: string; size: number }[];
  entryCount: number;
}

t.test('the shipped build writes no source maps: tsconfig.json, which `npm run build` compiles with', async (t) => {
  t.match(PKG.scripts['build'], /^tsc -p tsconfig\.json /, 'the build compiles tsconfig.json');
  const tsconfig = JSON.parse(readFileSync(join(ROOT, 'tsconfig.json'), 'utf8')) as { compilerOptions: Record<string, unknown> };
  const o = tsconfig.compilerOptions;
  t.equal(o['sourceMap'], false, 'sourceMap off');
  t.not(o['inlineSourceMap'], true, 'no inline source maps');
  t.not(o['declarationMap'], true, 'no .d.ts.map');
  t.not(o['inlineSources'], true, 'no sources inlined');
});

t.test('npm pack: no .map file, no sourceMappingURL comment in any shipped script or declaration', async (t) => {
  // --ignore-scripts: a prepack script, if one is ever added, must not rebuild dist/ under the other tests.
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  t.equal(r.status, 0, r.stderr);
  const packed = (JSON.parse(r.stdout) as Packed[])[0]!;
  const paths = packed.files.map((f) => f.path);
  t.ok(existsSync(join(ROOT, 'dist/runtime/cli/main.js')), 'dist/ is built (npm test builds it first)');
  t.ok(paths.includes('dist/runtime/cli/main.js'), 'the package ships dist/');
  t.same(paths.filter((p) => /\.map$/i.test(p)), [], 'no .map files');
  const scripts = paths.filter((p) => /\.(c|m)?js$|\.d\.ts$/.test(p));
  t.ok(scripts.length > 100, `${scripts.length} scripts and declarations checked`);
  const withMaps = scripts.filter((p) => /[#@] sourceMappingURL=/.test(readFileSync(join(ROOT, p), 'utf8')));
  t.same(withMaps, [], 'no sourceMappingURL comment (a map the package does not carry)');
  // Every compiled file ships with the source it was compiled from still in the tree: tsc never deletes its
  // outputs, so a dist/ left from an older build could ship a module (and a map) that no longer exists.
  const compiled = paths.filter((p) => p.startsWith('dist/') && !p.startsWith('dist/vendor/') && /\.js$/.test(p));
  t.same(compiled.filter((p) => !existsSync(join(ROOT, p.replace(/^dist\//, '').replace(/\.js$/, '.ts')))), [], 'no stale compiled file');
});
