import { readFileSync } from 'node:fs';
import { EdgeLstmError } from '../errors';

/** One command-line option. Every option can also come from a JSON config file (`--config`). */
export interface OptionSpec {
  type: 'string' | 'number' | 'boolean' | 'list';
  description: string;
  default?: string | number | boolean | string[];
  /** For numbers: the allowed range. */
  min?: number;
  max?: number;
  /** For numbers: `min` itself is excluded. */
  above?: boolean;
  integer?: boolean;
  /** For strings: the allowed values. */
  choices?: readonly string[];
  required?: boolean;
  /** Shown in help instead of the type. */
  placeholder?: string;
}

export type OptionSpecs = Record<string, OptionSpec>;

type ValueOf<S extends OptionSpec> = S['type'] extends 'number' ? number : S['type'] extends 'boolean' ? boolean : S['type'] extends 'list' ? string[] : string;

export type OptionValues<S extends OptionSpecs> = { [K in keyof S]: S[K] extends { required: true } | { default: unknown } ? ValueOf<S[K]> : ValueOf<S[K]> | undefined };

export interface ParsedArgs<S extends OptionSpecs> {
  values: OptionValues<S>;
  positionals: string[];
  help: boolean;
}

function configError(name: string, expected: string, found: unknown, where: string): EdgeLstmError {
  const f = JSON.stringify(found);
  return new EdgeLstmError('E_CONFIG', `${where}option --${name}: expected ${expected}, found ${f === undefined ? 'nothing' : f}`, { field: name, expected, found: String(f) });
}

/**
 * Parses `--name value`, `--name=value`, `--flag`/`--no-flag`, list options
 * (repeatable or comma-separated) and `--config FILE` (a JSON object with the
 * same option names; the command line wins). Everything is validated before
 * the command starts; a bad value is an E_CONFIG error naming the option.
 */
export function parseArgs<S extends OptionSpecs>(argv: readonly string[], specs: S): ParsedArgs<S> {
  const raw: Record<string, unknown> = {};
  const positionals: string[] = [];
  let configPath: string | undefined;
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (arg === '-h' || arg === '--help') {
      help = true;
      continue;
    }
    if (!arg.startsWith('--')) {
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    let name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    let inline: string | undefined = eq >= 0 ? arg.slice(eq + 1) : undefined;
    if (name === 'config') {
      configPath = inline ?? argv[++i];
      if (configPath === undefined) throw configError('config', 'a file path', undefined, '');
      continue;
    }
    let negated = false;
    if (!(name in specs) && name.startsWith('no-') && specs[name.slice(3)]?.type === 'boolean') {
      name = name.slice(3);
      negated = true;
    }
    const spec = specs[name];
    if (!spec) throw new EdgeLstmError('E_CONFIG', `unknown option --${name}`, { field: name, expected: Object.keys(specs).map((k) => `--${k}`).join(', ') });
    if (spec.type === 'boolean') {
      raw[name] = negated ? false : inline === undefined ? true : inline !== 'false' && inline !== '0';
      continue;
    }
    if (inline === undefined) {
      inline = argv[++i];
      if (inline === undefined) throw configError(name, spec.type === 'number' ? 'a number' : 'a value', undefined, '');
    }
    if (spec.type === 'list') {
      const prev = (raw[name] as string[] | undefined) ?? [];
      raw[name] = [...prev, ...inline.split(',').filter((s) => s.length > 0)];
    } else raw[name] = inline;
  }

  const fromConfig: Record<string, unknown> = configPath ? readConfig(configPath, specs) : {};
  const values: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(specs)) {
    const cli = raw[name];
    const where = cli === undefined && fromConfig[name] !== undefined ? `${configPath}: ` : '';
    const v = cli ?? fromConfig[name] ?? spec.default;
    if (v === undefined) {
      // --help prints the options; it must work before the required ones are known.
      if (spec.required && !help) throw configError(name, spec.placeholder ?? `a ${spec.type}`, undefined, '');
      values[name] = undefined;
      continue;
    }
    values[name] = coerce(name, spec, v, where);
  }
  return { values: values as OptionValues<S>, positionals, help };
}

function readConfig(path: string, specs: OptionSpecs): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new EdgeLstmError('E_CONFIG', `${path}: cannot read config file: ${(e as Error).message}`, { file: path });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new EdgeLstmError('E_CONFIG', `${path}: config file must hold a JSON object of option names`, { file: path });
  }
  for (const k of Object.keys(parsed)) {
    if (!(k in specs)) throw new EdgeLstmError('E_CONFIG', `${path}: unknown option "${k}"`, { file: path, field: k, expected: Object.keys(specs).join(', ') });
  }
  return parsed as Record<string, unknown>;
}

function coerce(name: string, spec: OptionSpec, v: unknown, where: string): unknown {
  switch (spec.type) {
    case 'number': {
      const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
      const range = `${spec.integer ? 'an integer' : 'a number'}${spec.min !== undefined ? ` ${spec.above === true ? '>' : '>='} ${spec.min}` : ''}${spec.max !== undefined ? ` <= ${spec.max}` : ''}`;
      if (!Number.isFinite(n) || (spec.integer && !Number.isInteger(n)) || (spec.min !== undefined && (spec.above === true ? n <= spec.min : n < spec.min)) || (spec.max !== undefined && n > spec.max)) {
        throw configError(name, range, v, where);
      }
      return n;
    }
    case 'boolean':
      if (typeof v !== 'boolean') throw configError(name, 'true or false', v, where);
      return v;
    case 'list': {
      const list = typeof v === 'string' ? v.split(',') : v;
      if (!Array.isArray(list) || !list.every((s) => typeof s === 'string' && s.length > 0)) throw configError(name, 'a list of names', v, where);
      return list;
    }
    default:
      if (typeof v !== 'string' || v.length === 0) throw configError(name, 'a non-empty string', v, where);
      if (spec.choices && !spec.choices.includes(v)) throw configError(name, `one of ${spec.choices.join(', ')}`, v, where);
      return v;
  }
}

/** Help text for a command's options. */
export function formatHelp(usage: string, specs: OptionSpecs): string {
  const lines = [`Usage: ${usage}`, '', 'Options:'];
  for (const [name, s] of Object.entries(specs)) {
    const arg = s.type === 'boolean' ? '' : ` <${s.placeholder ?? (s.choices ? s.choices.join('|') : s.type)}>`;
    const def = s.default !== undefined ? ` (default: ${JSON.stringify(s.default)})` : s.required ? ' (required)' : '';
    lines.push(`  --${name}${arg}`.padEnd(34) + ` ${s.description}${def}`);
  }
  lines.push('  --config <file.json>'.padEnd(34) + ' read any of these options from a JSON object', '  -h, --help'.padEnd(34) + ' show this help');
  return lines.join('\n');
}
