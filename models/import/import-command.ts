import type { OptionSpecs } from '../../runtime/cli/args';
import { defineCommand, readModelFile } from '../../runtime/cli/command';
import { writeFileAtomic } from '../../runtime/util/atomic-write';
import { readManifest } from './manifest';
import { importManifest } from './import-model';

const USAGE = 'edgelstm import MODEL.onnx --manifest M.json --out OUT.onnx';

const SPECS = {
  manifest: { type: 'string', description: 'JSON object of edgelstm.* keys (DESIGN.md section 2) to fold into the model', required: true, placeholder: 'M.json' },
  out: { type: 'string', description: 'where the single-file model goes (may be MODEL itself)', required: true, placeholder: 'OUT.onnx' },
  backend: { type: 'string', description: 'runtime that must accept the result before it is written', default: 'native', choices: ['native', 'wasm', 'reference'] },
} satisfies OptionSpecs;

/** `edgelstm import`: one file instead of a model plus a sidecar. Nothing is written unless the result loads. */
export const main = defineCommand({ usage: USAGE, options: SPECS, positionals: ['MODEL'] }, async (o, [file]) => {
  const bytes = readModelFile(file!);
  const manifest = readManifest(o.manifest);
  const { bytes: out, metadata } = await importManifest(bytes, manifest, {
    file: file!,
    manifestFile: o.manifest,
    verifyWith: o.backend as 'native' | 'wasm' | 'reference',
  });
  writeFileAtomic(o.out, out);
  process.stderr.write(`edgelstm import: wrote ${o.out} (${out.length} bytes, ${metadata.name}@${metadata.version}, quantization ${metadata.quantization.scheme})\n`);
});
