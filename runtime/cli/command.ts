import { readFileSync } from 'node:fs';
import { EdgeLstmError, ModelError } from '../errors';
import { formatHelp, parseArgs, type OptionSpecs, type OptionValues } from './args';
import { reportError } from './main';

export interface CommandSpec<S extends OptionSpecs> {
  /** The usage line, e.g. `edgelstm quantize IN.onnx OUT.onnx`. */
  usage: string;
  options: S;
  /** Names of the positional arguments the command requires, in order (e.g. ['IN.onnx', 'OUT.onnx']). */
  positionals?: readonly string[];
}

/**
 * The shape every command shares: parse and validate the options (and a
 * config file), print help, check the positional arguments, run, and report
 * an error the way every command does. Returns the command's `main`.
 */
export function defineCommand<S extends OptionSpecs>(spec: CommandSpec<S>, run: (options: OptionValues<S>, positionals: string[]) => Promise<number | void>): (argv: string[]) => Promise<number> {
  return async (argv) => {
    try {
      const { values, positionals, help } = parseArgs(argv, spec.options);
      if (help) {
        process.stdout.write(`${formatHelp(spec.usage, spec.options)}\n`);
        return 0;
      }
      const want = spec.positionals ?? [];
      if (positionals.length !== want.length) {
        const found = `${positionals.length} argument${positionals.length === 1 ? '' : 's'}`;
        throw new EdgeLstmError('E_CONFIG', `expected ${want.length === 0 ? 'no arguments' : want.join(' and ')}, found ${found} (usage: ${spec.usage})`, { field: want.join(' '), expected: want.join(' '), found });
      }
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
