import { readFileSync } from 'node:fs';
import { EdgeLstmError } from '../../runtime/errors';
import { formatHelp, parseArgs, type OptionSpecs } from '../../runtime/cli/args';
import { reportError } from '../../runtime/cli/main';
import { writeFileAtomic } from '../toolchain/atomic-write';
import { readManifest } from './manifest';
import { importManifest } from './import-model';

const USAGE = 'edgelstm import MODEL.onnx --manifest M.json --out OUT.onnx';

const SPECS = {
  manifest: { type: 'string', description: 'JSON object of edgelstm.* keys (DESIGN.md section 2) to fold into the model', required: true, placeholder: 'M.json' },
  out: { type: 'string', description: 'where the single-file model goes (may be MODEL itself)', required: true, placeholder: 'OUT.onnx' },
  backend: { type: 'string', description: 'runtime that must accept the result before it is written', default: 'native', choices: ['native', 'wasm', 'reference'] },
} satisfies OptionSpecs;

/** `edgelstm import`: one file instead of a model plus a sidecar. Nothing is written unless the result loads. */
export async function main(argv: string[]): Promise<number> {
  try {
    const { values: o, positionals, help } = parseArgs(argv, SPECS);
    if (help) {
      process.stdout.write(`${formatHelp(USAGE, SPECS)}\n`);
      return 0;
    }
    if (positionals.length !== 1) {
      throw new EdgeLstmError('E_CONFIG', `expected one MODEL argument, found ${positionals.length} (usage: ${USAGE})`, { field: 'MODEL' });
    }
    const file = positionals[0]!;
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(file);
    } catch (e) {
      throw new EdgeLstmError('E_MODEL', `${file}: cannot read model file: ${(e as Error).message}`, { file });
    }
    const manifest = readManifest(o.manifest);
    const { bytes: out, metadata } = await importManifest(bytes, manifest, {
      file,
      manifestFile: o.manifest,
      verifyWith: o.backend as 'native' | 'wasm' | 'reference',
    });
    writeFileAtomic(o.out, out);
    process.stderr.write(`edgelstm import: wrote ${o.out} (${out.length} bytes, ${metadata.name}@${metadata.version}, quantization ${metadata.quantization.scheme})\n`);
    return 0;
  } catch (e) {
    return reportError(e);
  }
}
