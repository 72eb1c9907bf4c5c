import { invalidOnnxError } from '../../runtime/onnx/decode';
import { existsSync } from 'node:fs';
import { EdgeLstmError } from '../../runtime/errors';
import type { OptionSpecs } from '../../runtime/cli/args';
import { defineCommand, readModelFile } from '../../runtime/cli/command';
import { readManifest } from './manifest';
import { checkWithLoader, formatReport, inspectModel } from './inspect-model';

const USAGE = 'edgelstm inspect MODEL.onnx [--json] [--manifest M.json]';

const SPECS = {
  json: { type: 'boolean', default: false, description: 'print the report as one JSON object' },
  manifest: { type: 'string', description: 'sidecar metadata to check the model against (default: MODEL.json beside it, if it exists)', placeholder: 'M.json' },
} satisfies OptionSpecs;

/**
 * `edgelstm inspect`: what a model file holds, and whether it loads: the
 * loader's whole check runs, so the verdict is the loader's own message. Reads
 * only; a refused model is still shown, with the reason, and the exit code is 1.
 */
export const main = defineCommand({ usage: USAGE, options: SPECS, positionals: ['MODEL'] }, async (o, [file]) => {
  const bytes = readModelFile(file!);
  const beside = file!.replace(/\.onnx$/i, '') + '.json';
  const manifestPath = o.manifest ?? (existsSync(beside) ? beside : undefined);
  const sidecar = manifestPath !== undefined ? readManifest(manifestPath) : undefined;
  let report;
  try {
    report = inspectModel(bytes, file!, sidecar);
  } catch (e) {
    if (e instanceof EdgeLstmError) throw e;
    throw invalidOnnxError(file!, bytes.length, e);
  }
  report = await checkWithLoader(report, bytes, sidecar);
  process.stdout.write(o.json ? `${JSON.stringify(report, null, 2)}\n` : `${formatReport(report)}\n${manifestPath ? `(metadata checked with ${manifestPath})\n` : ''}`);
  if (report.contractError !== null) {
    process.stderr.write(`edgelstm inspect: the loader refuses this model: ${report.contractError}\n`);
    return 1;
  }
  return 0;
});
