import { readFileSync } from 'node:fs';
import { EdgeLstmError, ModelError } from '../errors';
import { formatHelp, parseArgs, type OptionSpecs, type OptionValues } from './args';
import { reportError } from './report-error';

export interface CommandSpec<S extends OptionSpecs> {
  /** The usage line, e.g. `edgelstm quantize IN.onnx OUT.onnx`. */
  usage: string;
  options: S;
  /**
   * Names of the positional arguments the command requires, in order (e.g.
   * ['IN.onnx', 'OUT.onnx']). A last name ending in `...` takes one or more.
   */
  positionals?: readonly string[];
  /** Printed after the options in `--help`. */
  epilog?: string;
}

/** E_CONFIG unless `found` fits `want` (a last name ending in `...` takes one or more). */
function checkPositionals(want: readonly string[], found: readonly string[], usage: string): void {
  const variadic = want.length > 0 && want[want.length - 1]!.endsWith('...');
  const ok = variadic ? found.length >= want.length : found.length === want.length;
  if (ok) return;
  const n = `${found.length} argument${found.length === 1 ? '' : 's'}`;
  throw new EdgeLstmError('E_CONFIG', `expected ${want.length === 0 ? 'no arguments' : want.join(' and ')}, found ${n} (usage: ${usage})`, { field: want.join(' '), expected: want.join(' '), found: n });
}

/**
 * The shape every command shares: parse and validate the options (and a
 * config file), print help, check the positional arguments, run, and report
 * an error the way every command does. Returns the command's `main`, which
 * never throws: 0 done, 1 failed, 2 bad usage (E_CONFIG), or what `run` returns.
 */
export function defineCommand<S extends OptionSpecs>(spec: CommandSpec<S>, run: (options: OptionValues<S>, positionals: string[]) => Promise<number | void>): (argv: string[]) => Promise<number> {
  return async (argv) => {
    try {
      const { values, positionals, help } = parseArgs(argv, spec.options);
      if (help) {
        process.stdout.write(`${formatHelp(spec.usage, spec.options)}${spec.epilog !== undefined ? `\n\n${spec.epilog}` : ''}\n`);
        return 0;
      }
      checkPositionals(spec.positionals ?? [], positionals, spec.usage);
      return (await run(values, positionals)) ?? 0;
    } catch (e) {
      return reportError(e);
    }
  };
}

/** A model file's bytes, or an E_MODEL error naming the file. */
export function readModelFile(file: string): Uint8Array {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new ModelError(`cannot read model file: ${(e as Error).message}`, { file });
  }
}
