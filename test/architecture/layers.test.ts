import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import t from 'tap';
import ts from 'typescript';

/**
 * The layer table of docs/ARCHITECTURE.md, bottom first. A module may import
 * its own layer or one below it, never one above. Each entry is a unit: a
 * folder (with its subfolders, unless they have an entry of their own) or a
 * single file; the longest matching entry wins. Units must also form no cycle,
 * even within one layer.
 */
export const LAYERS: readonly { layer: string; units: readonly string[] }[] = [
  { layer: 'foundation', units: ['runtime/errors.ts', 'runtime/util/', 'runtime/contract/', 'runtime/net/'] },
  { layer: 'formats', units: ['runtime/onnx/', 'runtime/state/'] },
  { layer: 'backends', units: ['runtime/backend/'] },
  { layer: 'model', units: ['runtime/model/'] },
  { layer: 'learning', units: ['runtime/learn/'] },
  { layer: 'engine', units: ['runtime/engine/'] },
  { layer: 'edges', units: ['runtime/host/', 'runtime/reading/', 'runtime/acquire/'] },
  { layer: 'shell', units: ['runtime/cli/'] },
  { layer: 'applications', units: ['runtime/service/', 'runtime/replay/', 'runtime/eval/', 'runtime/cluster/', 'runtime/view/', 'runtime/sparkplug/', 'runtime/homeassistant/'] },
  { layer: 'public API', units: ['runtime/index.ts'] },
  { layer: 'toolchain', units: ['models/toolchain/', 'models/import/', 'models/quantize/', 'models/sign/', 'models/build/'] },
  { layer: 'integrations', units: ['nodes/shared/', 'nodes/', 'deploy/'] },
  { layer: 'entry', units: ['runtime/cli/main.ts'] },
];

export const ROOTS = ['runtime', 'nodes', 'models', 'deploy'] as const;

/** Every relative module a source imports: `import ... from`, `export ... from`, `import '...'`, `require('...')`, `import('...')`. */
export function importsOf(source: string): string[] {
  // preProcessFile scans tokens, so an import written in a comment or a string is not counted.
  const info = ts.preProcessFile(source, true, true);
  return info.importedFiles.map((f) => f.fileName);
}

export function unitOf(file: string, layers = LAYERS): { unit: string; rank: number; layer: string } | undefined {
  let best: { unit: string; rank: number; layer: string } | undefined;
  layers.forEach((l, rank) => {
    for (const u of l.units) {
      const hit = u.endsWith('/') ? file.startsWith(u) : file === u;
      if (hit && (best === undefined || u.length > best.unit.length)) best = { unit: u, rank, layer: l.layer };
    }
  });
  return best;
}

export interface Edge {
  from: string;
  to: string;
  specifier: string;
}

/** Layer violations (a lower layer importing a higher one) and files no entry covers. */
export function layerViolations(edges: readonly Edge[], files: readonly string[], layers = LAYERS): string[] {
  const out: string[] = [];
  for (const f of files) if (!unitOf(f, layers)) out.push(`${f}: in no layer (add its folder to LAYERS and to docs/ARCHITECTURE.md)`);
  for (const e of edges) {
    const a = unitOf(e.from, layers);
    const b = unitOf(e.to, layers);
    if (a && b && b.rank > a.rank) out.push(`${e.from} imports '${e.specifier}': layer "${a.layer}" (${a.unit}) may not import layer "${b.layer}" (${b.unit})`);
  }
  return out;
}

/** The public API: integrations (`nodes/`) import the runtime through it only, never a deeper module. */
export const PUBLIC_API = 'runtime/index.ts';

/** Imports from `nodes/` into `runtime/` that bypass the public API. */
export function deepImports(edges: readonly Edge[]): string[] {
  return edges
    .filter((e) => e.from.startsWith('nodes/') && e.to.startsWith('runtime/') && e.to !== PUBLIC_API)
    .map((e) => `${e.from} imports '${e.specifier}': nodes/ sees the runtime through ${PUBLIC_API} only (export it there)`);
}

/** Unit cycles (Tarjan's strongly connected components), each named with the imports that close it. */
export function unitCycles(edges: readonly Edge[], layers = LAYERS): string[] {
  const graph = new Map<string, Map<string, Edge>>();
  for (const e of edges) {
    const a = unitOf(e.from, layers)?.unit;
    const b = unitOf(e.to, layers)?.unit;
    if (!a || !b || a === b) continue;
    if (!graph.has(a)) graph.set(a, new Map());
    if (!graph.get(a)!.has(b)) graph.get(a)!.set(b, e);
  }
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[] = [];
  let next = 0;
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v)?.keys() ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1) {
        const inScc = new Set(scc);
        const closing = [...inScc].flatMap((u) => [...(graph.get(u) ?? new Map<string, Edge>()).entries()].filter(([to]) => inScc.has(to)).map(([, e]) => `${e.from} imports '${e.specifier}'`));
        cycles.push(`cycle between ${scc.sort().join(', ')}: ${closing.join('; ')}`);
      }
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return cycles;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

function resolveModule(from: string, specifier: string): string | undefined {
  const base = normalize(join(dirname(from), specifier));
  for (const c of [`${base}.ts`, join(base, 'index.ts'), base]) {
    try {
      if (statSync(c).isFile()) return c;
    } catch {
      // not this candidate
    }
  }
  return undefined;
}

const root = join(__dirname, '..', '..');
const files = ROOTS.flatMap((r) => sourceFiles(join(root, r))).map((f) => relative(root, f).split('\\').join('/'));
const edges: Edge[] = [];
const unresolved: string[] = [];
for (const from of files) {
  for (const specifier of importsOf(readFileSync(join(root, from), 'utf8'))) {
    if (!specifier.startsWith('.')) continue;
    const to = resolveModule(join(root, from), specifier);
    if (to === undefined) unresolved.push(`${from} imports '${specifier}': no such module`);
    else edges.push({ from, to: relative(root, to).split('\\').join('/'), specifier });
  }
}

t.test('the import scanner sees every form of import, and none in comments', async (t) => {
  const src = [
    "import { a } from './static';",
    "import type { B } from './types';",
    "export { c } from './reexport';",
    "import './side-effect';",
    "const d = require('./required');",
    "const e = await import('./dynamic');",
    "// import { f } from './in-a-comment';",
  ].join('\n');
  t.same(importsOf(src).sort(), ['./dynamic', './reexport', './required', './side-effect', './static', './types']);
});

t.test('the checks name a file importing upward and a cycle', async (t) => {
  const layers = [
    { layer: 'low', units: ['a/', 'b/'] },
    { layer: 'high', units: ['c/'] },
  ];
  const upward = { from: 'a/x.ts', to: 'c/y.ts', specifier: '../c/y' };
  t.same(layerViolations([upward, { from: 'c/y.ts', to: 'a/x.ts', specifier: '../a/x' }], ['a/x.ts', 'c/y.ts', 'd/z.ts'], layers), [
    'd/z.ts: in no layer (add its folder to LAYERS and to docs/ARCHITECTURE.md)',
    "a/x.ts imports '../c/y': layer \"low\" (a/) may not import layer \"high\" (c/)",
  ]);
  const cycle = unitCycles([{ from: 'a/x.ts', to: 'b/y.ts', specifier: '../b/y' }, { from: 'b/y.ts', to: 'a/z.ts', specifier: '../a/z' }], layers);
  t.equal(cycle.length, 1);
  t.match(cycle[0], /^cycle between a\/, b\/: /);
  t.match(cycle[0], /a\/x\.ts imports '\.\.\/b\/y'/);
  t.match(cycle[0], /b\/y\.ts imports '\.\.\/a\/z'/);
});

t.test('the public-API check names a deep import from nodes/', async (t) => {
  t.same(
    deepImports([
      { from: 'nodes/a/a.ts', to: 'runtime/index.ts', specifier: '../../runtime' },
      { from: 'nodes/a/a.ts', to: 'runtime/engine/engine.ts', specifier: '../../runtime/engine/engine' },
      { from: 'nodes/shared/b.ts', to: 'nodes/shared/c.ts', specifier: './c' },
      { from: 'runtime/service/x.ts', to: 'runtime/engine/engine.ts', specifier: '../engine/engine' },
    ]),
    ["nodes/a/a.ts imports '../../runtime/engine/engine': nodes/ sees the runtime through runtime/index.ts only (export it there)"],
  );
});

t.test('nodes/ imports the runtime only through its public API (runtime/index.ts)', async (t) => {
  t.ok(edges.some((e) => e.from.startsWith('nodes/') && e.to === PUBLIC_API), 'nodes/ does import the public API');
  t.same(deepImports(edges), []);
});

t.test('every relative import names a module that exists', async (t) => {
  t.ok(edges.length > 500, `scanned ${files.length} files, ${edges.length} imports`);
  t.same(unresolved, []);
});

/**
 * Known exceptions, each with the reason it is still here. An entry that no
 * longer matches fails the test, so the list only shrinks.
 */
const KNOWN: readonly string[] = [];

t.test('no layer imports a layer above it (docs/ARCHITECTURE.md)', async (t) => {
  const found = layerViolations(edges, files);
  t.same(found.filter((v) => !KNOWN.some((k) => v.startsWith(k))), []);
  for (const k of KNOWN) t.ok(found.some((v) => v.startsWith(k)), `known exception still needed: ${k}`);
});

t.test('no cycle between folders', async (t) => {
  t.same(unitCycles(edges.filter((e) => !KNOWN.some((k) => `${e.from} imports '${e.specifier}'`.startsWith(k)))), []);
});

t.test('the layer table here is the one in docs/ARCHITECTURE.md', async (t) => {
  const doc = readFileSync(join(root, 'docs', 'ARCHITECTURE.md'), 'utf8');
  for (const { layer, units } of LAYERS) {
    const row = doc.split('\n').find((l) => l.startsWith(`| ${layer} |`));
    t.ok(row, `ARCHITECTURE.md has a row for layer "${layer}"`);
    for (const u of units) t.ok(row?.includes(`\`${u}\``), `its row names \`${u}\``);
  }
});
