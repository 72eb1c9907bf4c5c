import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import t from 'tap';
import { main as buildModels } from '../../models/build/build-models';

const root = join(__dirname, '..', '..');
const read = (f: string): string => readFileSync(join(root, f), 'utf8');

/** The modules the dispatcher's table names (`import('...')` in runtime/cli/main.ts), and the build-models script. */
function commandModules(): string[] {
  const table = [...read('runtime/cli/main.ts').matchAll(/import\('([^']+)'\)/g)].map((m) => relative(root, join(root, 'runtime/cli', `${m[1]}.ts`)).split('\\').join('/'));
  return [...new Set([...table, 'models/build/build-models.ts'])];
}

function sources(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) => {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

t.test('every command is built with defineCommand (runtime/cli/command.ts)', async (t) => {
  const modules = commandModules();
  t.ok(modules.length >= 12, `${modules.length} command modules`);
  for (const m of modules) t.match(read(m), /defineCommand\(/, m);
});

t.test('no module outside the shell parses arguments by hand', async (t) => {
  const outside = ['runtime', 'models', 'deploy', 'nodes'].flatMap(sources).filter((f) => !f.startsWith('runtime/cli/') && /\bparseArgs\(/.test(read(f)));
  t.same(outside, []);
});

t.test('build-models: help, unknown options and stray arguments as every command', async (t) => {
  const out: string[] = [];
  const err: string[] = [];
  const so = process.stdout.write.bind(process.stdout);
  const se = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((s: string) => out.push(s) > 0) as typeof process.stdout.write;
  process.stderr.write = ((s: string) => err.push(s) > 0) as typeof process.stderr.write;
  let codes: number[];
  try {
    // Assertions wait until stdout is back: tap reports through it.
    codes = [await buildModels(['--help']), await buildModels(['--bogus']), await buildModels(['--quick', '--out-dir', join(tmpdir(), 'edgelstm-never-written'), 'stray'])];
  } finally {
    process.stdout.write = so;
    process.stderr.write = se;
  }
  t.same(codes, [0, 2, 2], 'help 0; an unknown option and a positional argument are bad usage (2)');
  t.match(out.join(''), /build-models \[--out-dir DIR\] \[--quick\][\s\S]*--quick/);
  t.match(err.join(''), /--bogus/);
  t.match(err.join(''), /expected no arguments, found 1 argument/);
});
