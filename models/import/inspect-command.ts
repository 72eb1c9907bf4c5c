import { existsSync } from 'node:fs';
import { EdgeLstmError, ModelError } from '../../runtime/errors';
import type { OptionSpecs } from '../../runtime/cli/args';
import { defineCommand, readModelFile } from '../../runtime/cli/command';
import { readManifest } from './manifest';
import { formatReport, inspectModel } from './inspect-model';

const USAGE = 'edgelstm inspect MODEL.onnx [--json] [--manifest M.json]';

const SPECS = {
  json: { type: 'boolean', default: false, description: 'print the report as one JSON object' },
  manifest: { type: 'string', description: 'sidecar metadata to check the model against (default: MODEL.json beside it, if it exists)', placeholder: 'M.json' },
} satisfies OptionSpecs;

/** `edgelstm inspect`: what a model file holds. Reads only; a model that breaks the contract is still shown, with the reason. */
export const main = defineCommand({ usage: USAGE, options: SPECS, positionals: ['MODEL'] }, async (o, [file]) => {
  const bytes = readModelFile(file!);
  const beside = file!.replace(/\.onnx$/i, '') + '.json';
  const manifestPath = o.manifest ?? (existsSync(beside) ? beside : undefined);
  let report;
  try {
    report = inspectModel(bytes, file!, manifestPath !== undefined ? readManifest(manifestPath) : undefined);
  } catch (e) {
    if (e instanceof EdgeLstmError) throw e;
    throw new ModelError(`not a valid ONNX file (${(e as Error).message})`, { file });
  }
  process.stdout.write(o.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatReport(report)}\n${manifestPath ? `(metadata checked with ${manifestPath})\n` : ''}`);
});
