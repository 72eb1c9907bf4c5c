/** Finding and loading a NAB-layout corpus: data/<category>/<name>.csv, labels/, config/profiles.json. */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { EdgeLstmError } from '../errors';
import { resolveWindows, type WindowLabels } from './labels';
import { NAB_PROFILES, PROFILE_NAMES, type CostProfile } from './profiles';
import { readSeriesCsv, type Series } from './series-csv';
import type { RowWindow } from './sweep-values';

export interface NabPaths {
  /** The folder holding the category folders. */
  readonly dataDir: string;
  readonly labelsFile: string;
  /** NAB's config/profiles.json when found beside the data; otherwise the built-in copy is used. */
  readonly profilesFile: string | undefined;
}

/**
 * Accepts either the dataset root (holding data/ and labels/) or its data/
 * folder, and looks for the labels and profiles where NAB keeps them.
 */
export function resolveNabPaths(dir: string, labels?: string): NabPaths {
  const abs = resolve(dir);
  if (!existsSync(abs) || !statSync(abs).isDirectory()) throw new EdgeLstmError('E_CONFIG', `--data: not a folder: ${dir}`, { field: 'data', found: dir });
  const dataDir = existsSync(join(abs, 'data')) && statSync(join(abs, 'data')).isDirectory() ? join(abs, 'data') : abs;
  const root = dirname(dataDir);
  const labelsFile = labels !== undefined ? resolve(labels) : join(root, 'labels', 'combined_windows.json');
  if (!existsSync(labelsFile)) {
    throw new EdgeLstmError('E_CONFIG', `${labels !== undefined ? '--labels' : 'labels'}: no such file: ${labelsFile}${labels === undefined ? ' (pass --labels FILE)' : ''}`, { field: 'labels', file: labelsFile });
  }
  const profiles = join(root, 'config', 'profiles.json');
  return { dataDir, labelsFile, profilesFile: existsSync(profiles) ? profiles : undefined };
}

/** Every `<category>/<name>.csv` under the data folder, sorted: the order NAB runs files in. */
export function listNabFiles(dataDir: string): string[] {
  const keys: string[] = [];
  for (const cat of readdirSync(dataDir).sort()) {
    const cdir = join(dataDir, cat);
    if (!statSync(cdir).isDirectory()) continue;
    for (const f of readdirSync(cdir).sort()) if (f.endsWith('.csv')) keys.push(`${cat}/${f}`);
  }
  return keys;
}

/** `*` and `?` stay within one path segment, `**` crosses segments; anything else is literal. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*' && glob[i + 1] === '*') {
      re += '.*';
      i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/**
 * Keeps the keys matching any pattern (a key, a glob, or a bare file name),
 * in corpus order. A pattern that matches nothing is an error: a typo must not
 * silently shrink the benchmark.
 */
export function selectFiles(keys: readonly string[], patterns: readonly string[] | undefined): string[] {
  if (patterns === undefined || patterns.length === 0) return [...keys];
  const res = patterns.map((p) => ({ p, re: globToRegExp(p.trim()), hit: false }));
  const out = keys.filter((k) => {
    let any = false;
    for (const r of res) {
      if (r.re.test(k) || r.re.test(basename(k))) {
        r.hit = true;
        any = true;
      }
    }
    return any;
  });
  const miss = res.find((r) => !r.hit);
  if (miss) throw new EdgeLstmError('E_CONFIG', `--files: "${miss.p}" matches no data file`, { field: 'files', found: miss.p });
  return out;
}

export interface NabFile {
  /** `<category>/<name>.csv`, the key NAB's labels use. */
  readonly key: string;
  readonly category: string;
  readonly series: Series;
  readonly windows: readonly RowWindow[];
}

export function loadNabFile(paths: NabPaths, labels: WindowLabels, key: string): NabFile {
  const windows = labels.get(key);
  if (windows === undefined) throw new EdgeLstmError('E_CONFIG', `${paths.labelsFile}: no windows listed for ${key} (NAB lists every file, with [] when it has none)`, { file: paths.labelsFile, field: key });
  const series = readSeriesCsv(join(paths.dataDir, key));
  return { key, category: key.split('/')[0]!, series, windows: resolveWindows(series.timestamps, windows, paths.labelsFile, key) };
}

/** Reads NAB's profiles.json ({name: {CostMatrix: {tpWeight, fpWeight, fnWeight}}}); without a file, NAB v1.1's values. */
export function readProfiles(file: string | undefined): CostProfile[] {
  if (file === undefined) return [...NAB_PROFILES];
  let parsed: Record<string, { CostMatrix?: Record<string, unknown> }>;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8')) as typeof parsed;
  } catch (e) {
    throw new EdgeLstmError('E_CONFIG', `${file}: cannot read profiles: ${(e as Error).message}`, { file });
  }
  return PROFILE_NAMES.map((name) => {
    const m = parsed[name]?.CostMatrix;
    const num = (k: string): number => {
      const v = m?.[k];
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new EdgeLstmError('E_CONFIG', `${file}: ${name}.CostMatrix.${k}: expected a number >= 0, found ${JSON.stringify(v)}`, { file, field: `${name}.CostMatrix.${k}` });
      return v;
    };
    return { name, tpWeight: num('tpWeight'), fpWeight: num('fpWeight'), fnWeight: num('fnWeight') };
  });
}
