import { existsSync } from 'node:fs';
import type { OptionSpecs } from '../../runtime/cli/args';
import { defineCommand, readModelFile } from '../../runtime/cli/command';
import { loadModel } from '../../runtime/model/load-model';
import { writeFileAtomic } from '../toolchain/atomic-write';
import { readManifest } from '../import/manifest';
import { DYNAMIC_CAVEAT } from './dynamic-lstm';
import { quantizeModel, type QuantizeMode } from './quantize-model';

const USAGE = 'edgelstm quantize IN.onnx OUT.onnx [--mode weight|dynamic] [--no-per-channel]';

const SPECS = {
  mode: {
    type: 'string',
    choices: ['weight', 'dynamic'],
    default: 'weight',
    description:
      'weight: int8 LSTM weights dequantized in the graph, float32 activations; a device\'s output never depends on its batch-mates. ' +
      `dynamic: ONNX Runtime's DynamicQuantizeLSTM. CAVEAT: ${DYNAMIC_CAVEAT}`,
  },
  'per-channel': { type: 'boolean', default: true, description: 'one scale per gate row (--no-per-channel: one per layer)' },
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
  const out = quantizeModel(bytes, { mode, perChannel: o['per-channel'], file: input, ...(sidecar ? { sidecar } : {}) });
  // The same checks as any model load, and ONNX Runtime's own, before anything is written.
  const check = await loadModel(out, { sidecar: false, name: output });
  await check.release();
  writeFileAtomic(output, out);
  const ratio = bytes.length / out.length;
  process.stderr.write(`edgelstm quantize: wrote ${output}: ${out.length} bytes, ${ratio.toFixed(2)}x smaller than ${input} (${bytes.length} bytes), int8-${mode}${o['per-channel'] ? ', per channel' : ''}\n`);
  if (mode === 'dynamic') process.stderr.write(`edgelstm quantize: caveat: ${DYNAMIC_CAVEAT}\n`);
});
