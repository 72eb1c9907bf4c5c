#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EdgeLstmError } from '../errors';
import { packageRoot } from '../model/default-model';

/** A command module exports `main(argv)`, argv being what follows the command name. */
interface CommandModule {
  main(argv: string[]): Promise<number>;
}

/** Commands load lazily, so `edgelstm replay` never pays for the MQTT stack or the trainer. */
const COMMANDS: Record<string, { module: string; summary: string; export?: string }> = {
  run: { module: '../service/run-command', summary: 'the MQTT service (an embedded broker when no --broker is given)' },
  replay: { module: '../replay/replay-command', summary: 'stream a CSV file through the engine, one result per row' },
  eval: { module: '../eval/eval-command', summary: 'NAB score and forecast accuracy on a data folder' },
  demo: { module: '../service/demo-command', summary: 'a simulated fleet with injected anomalies against a running service' },
  train: { module: '../../models/toolchain/train-command', summary: 'train an LSTM forecaster on CSV files' },
  export: { module: '../../models/toolchain/export-command', summary: 'write a model in the contract\'s canonical form, or its weights as JSON' },
  quantize: { module: '../../models/quantize/quantize-command', summary: 'int8-quantize a model (batch-invariant by default)' },
  inspect: { module: '../../models/import/inspect-command', summary: 'print a model\'s tensors, metadata, size and fingerprint' },
  import: { module: '../../models/import/import-command', summary: 'fold a sidecar manifest into a PyTorch-exported model' },
  deploy: { module: '../../deploy/fleet/deploy-command', summary: 'roll a model (and flows) out to a fleet' },
  sign: { module: '../model/sign-command', summary: 'sign a model with an ed25519 key' },
  keygen: { module: '../model/sign-command', summary: 'make an ed25519 key pair for model signing', export: 'keygenMain' },
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
  const cmd = COMMANDS[name];
  if (!cmd) {
    process.stderr.write(`edgelstm: unknown command "${name}"\n\n${usage()}\n`);
    return 2;
  }
  const mod = require(cmd.module) as Record<string, unknown>;
  const fn = (mod[cmd.export ?? 'main'] ?? mod['main']) as CommandModule['main'];
  return fn(rest);
}

/** Prints an error the way every command does: the message, and for config errors nothing else. */
export function reportError(e: unknown): number {
  if (e instanceof EdgeLstmError) {
    process.stderr.write(`edgelstm: ${e.message}\n`);
    return e.code === 'E_CONFIG' ? 2 : 1;
  }
  process.stderr.write(`edgelstm: ${(e as Error)?.stack ?? String(e)}\n`);
  return 1;
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
