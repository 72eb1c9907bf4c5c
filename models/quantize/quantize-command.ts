import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { OptionSpecs } from '../../runtime/cli/args';
import { defineCommand, readModelFile } from '../../runtime/cli/command';
import { loadModel } from '../../runtime/model/load-model';
import { writeFileAtomic } from '../../runtime/util/atomic-write';
import { readManifest } from '../import/manifest';
import { DYNAMIC_CAVEAT } from './dynamic-lstm';
import { quantizeModel, STATIC_PER_CHANNEL, type QuantizeMode } from './quantize-model';
import { parseMetadata } from '../../runtime/model/metadata';
import { EdgeLstmError, formatWithDetails } from '../../runtime/errors';
import { decodeModel } from '../../runtime/onnx/decode';
import { readTrainingCsv } from '../toolchain/training-csv';
import type { RawSeries } from '../toolchain/series-data';

const USAGE = 'edgelstm quantize IN.onnx OUT.onnx [--mode weight|dynamic|static] [--calibration CSV|DIR] [--no-per-channel]';

const SPECS = {
  mode: {
    type: 'string',
    choices: ['weight', 'dynamic', 'static'],
    default: 'weight',
    description:
      'weight: int8 LSTM weights dequantized in the graph, float32 activations; a device\'s output never depends on its batch-mates. ' +
      `dynamic: ONNX Runtime's DynamicQuantizeLSTM. CAVEAT: ${DYNAMIC_CAVEAT} ` +
      'static: int8 compute (integer matrix products with fixed, calibrated activation scales, float32 gates and cell state); batch-invariant bit for bit.',
  },
  calibration: {
    type: 'string',
    description: '--mode static: readings to calibrate the input and state scales on: a CSV (timestamp and the feature columns, raw units) or a folder of them (default: the engine\'s bounds)',
    placeholder: 'CSV|DIR',
  },
  'per-channel': { type: 'boolean', default: true, description: 'one scale per gate row (--no-per-channel: one per layer; --mode weight and dynamic only, static is always per channel)' },
  manifest: { type: 'string', description: 'sidecar metadata to fold in (default: IN.json beside IN.onnx, if it exists)', placeholder: 'M.json' },
} satisfies OptionSpecs;

/** `edgelstm quantize`: writes OUT only after it loads with the same checks as every model. */
export const main = defineCommand({ usage: USAGE, options: SPECS, positionals: ['IN.onnx', 'OUT.onnx'] }, async (o, positionals) => {
  const [input, output] = positionals as [string, string];
  const bytes = readModelFile(input);
  const beside = input.replace(/\.onnx$/i, '') + '.json';
  const manifestPath = o.manifest ?? (existsSync(beside) ? beside : undefined);
  const sidecar = manifestPath !== undefined ? readManifest(manifestPath) : undefined;
  const mode = o.mode as QuantizeMode;
  if (o.calibration !== undefined && mode !== 'static') throw configError('calibration', '--mode static (only it uses calibration data)', `--mode ${mode}`);
  if (mode === 'static' && !o['per-channel']) throw configError('per-channel', `per channel with --mode static (${STATIC_PER_CHANNEL}); --no-per-channel goes with --mode weight or dynamic`, '--no-per-channel');
  const calibration = o.calibration !== undefined ? { series: readCalibration(o.calibration, bytes, input, sidecar), source: o.calibration } : undefined;
  const out = quantizeModel(bytes, { mode, perChannel: o['per-channel'], file: input, ...(sidecar ? { sidecar } : {}), ...(calibration ? { calibration } : {}) });
  // The same checks as any model load, and ONNX Runtime's own, before anything is written.
  const check = await loadModel(out, { sidecar: false, name: output });
  await check.release();
  writeFileAtomic(output, out);
  process.stderr.write(`edgelstm quantize: wrote ${output}: ${out.length} bytes, ${sizeComparison(out.length, bytes.length)} ${input} (${bytes.length} bytes), int8-${mode}${o['per-channel'] ? ', per channel' : ''}\n`);
  if (mode === 'static') process.stderr.write(`edgelstm quantize: activation scales ${decodeModel(out).metadata.get('edgelstm.quantization')}\n`);
  if (mode === 'dynamic') process.stderr.write(`edgelstm quantize: caveat: ${DYNAMIC_CAVEAT}\n`);
});

/**
 * "2.71x smaller than" when the output is smaller; otherwise "1.45x the size
 * of" (a tiny model's int8-static graph outweighs its weights).
 */
function sizeComparison(outBytes: number, inBytes: number): string {
  return outBytes < inBytes ? `${(inBytes / outBytes).toFixed(2)}x smaller than` : `${(outBytes / inBytes).toFixed(2)}x the size of`;
}

/** The calibration CSVs (one file, or every .csv in a folder), read with the model's feature names. */
function readCalibration(path: string, bytes: Uint8Array, file: string, sidecar: Record<string, unknown> | undefined): RawSeries[] {
  const features = parseMetadata(decodeModel(bytes).metadata, sidecar, file).features;
  let files: string[];
  try {
    files = statSync(path).isDirectory() ? readdirSync(path).filter((f) => f.toLowerCase().endsWith('.csv')).sort().map((f) => join(path, f)) : [path];
  } catch (e) {
    throw configError('calibration', 'a CSV file or a folder of them', `${path} (${(e as Error).message})`);
  }
  if (files.length === 0) throw configError('calibration', 'a folder holding .csv files', `${path} (none)`);
  return files.map((f) => readTrainingCsv(f, features, 2));
}

function configError(field: string, expected: string, found: string): EdgeLstmError {
  return new EdgeLstmError('E_CONFIG', formatWithDetails(`--${field}: invalid value`, { field, expected, found }), { field, expected, found });
}
