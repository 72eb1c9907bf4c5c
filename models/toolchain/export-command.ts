import { EdgeLstmError } from '../../runtime/errors';
import type { OptionSpecs } from '../../runtime/cli/args';
import { defineCommand } from '../../runtime/cli/command';
import { writeFileAtomic } from '../../runtime/util/atomic-write';
import { exportModelFile, type ExportFormat } from './export-file';

const USAGE = 'edgelstm export MODEL --out OUT.onnx|OUT.json';

const SPECS = {
  out: { type: 'string', required: true, placeholder: 'OUT.onnx', description: 'where to write: .onnx for the canonical contract form (float32, standard LSTM op, default tensor names, metadata in the file), .json for weights and metadata as JSON' },
} satisfies OptionSpecs;

/** `edgelstm export`: a model in the contract's canonical form, or its weights as JSON. Nothing is written unless the result checks. */
export const main = defineCommand({ usage: USAGE, options: SPECS, positionals: ['MODEL'] }, async (o, [file]) => {
  const format: ExportFormat | undefined = /\.onnx$/i.test(o.out) ? 'onnx' : /\.json$/i.test(o.out) ? 'json' : undefined;
  if (!format) throw new EdgeLstmError('E_CONFIG', `option --out: expected a file name ending in .onnx or .json, found "${o.out}"`, { field: 'out', expected: '.onnx or .json', found: o.out });
  const { bytes, metadata } = await exportModelFile(file!, format);
  writeFileAtomic(o.out, bytes);
  process.stderr.write(`edgelstm export: wrote ${o.out} (${bytes.length} bytes, ${metadata.name}@${metadata.version}, ${format})\n`);
});
