#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../model/default-model';
import { reportError } from './report-error';

/** A command's `main(argv)`, argv being what follows the command name: built with defineCommand (./command.ts). */
type CommandMain = (argv: string[]) => Promise<number>;

/**
 * Every command, by name. Each module is imported when its command runs, so
 * `edgelstm replay` never pays for the MQTT stack or the trainer; the imports
 * are written out so that the compiler, and the layering test, see them.
 */
const COMMANDS: Record<string, { summary: string; load: () => Promise<CommandMain> }> = {
  run: { summary: 'the MQTT service (an embedded broker when no --broker is given)', load: async () => (await import('../service/run-command')).main },
  replay: { summary: 'stream a CSV file through the engine, one result per row', load: async () => (await import('../replay/replay-command')).main },
  eval: { summary: 'NAB score and forecast accuracy on a data folder', load: async () => (await import('../eval/eval-command')).main },
  demo: { summary: 'a simulated fleet with injected anomalies against a running service', load: async () => (await import('../service/demo-command')).main },
  train: { summary: 'train an LSTM forecaster on CSV files', load: async () => (await import('../../models/toolchain/train-command')).main },
  export: { summary: "write a model in the contract's canonical form, or its weights as JSON", load: async () => (await import('../../models/toolchain/export-command')).main },
  quantize: { summary: 'int8-quantize a model (batch-invariant by default)', load: async () => (await import('../../models/quantize/quantize-command')).main },
  inspect: { summary: "print a model's tensors, metadata, size and fingerprint", load: async () => (await import('../../models/import/inspect-command')).main },
  import: { summary: 'fold a sidecar manifest into a PyTorch-exported model', load: async () => (await import('../../models/import/import-command')).main },
  deploy: { summary: 'roll a model (and flows) out to a fleet', load: async () => (await import('../../deploy/fleet/deploy-command')).main },
  sign: { summary: 'sign a model with an ed25519 key', load: async () => (await import('../../models/sign/sign-command')).main },
  keygen: { summary: 'make an ed25519 key pair for model signing', load: async () => (await import('../../models/sign/sign-command')).keygenMain },
};

function usage(): string {
  const lines = ['Usage: edgelstm <command> [options]   (edgelstm <command> --help for its options)', '', 'Commands:'];
  for (const [name, c] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(10)} ${c.summary}`);
  return lines.join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${usage()}\n`);
    return name === undefined ? 2 : 0;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`${(JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version}\n`);
    return 0;
  }
  const cmd = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!cmd) {
    process.stderr.write(`edgelstm: unknown command "${name}"\n\n${usage()}\n`);
    return 2;
  }
  return (await cmd.load())(rest);
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.exitCode = reportError(e);
    },
  );
}
