import { createWriteStream, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { BACKEND_CHOICES, type BackendChoice } from '../backend/choose-backend';
import { Engine } from '../engine/engine';
import { loadModel } from '../model/load-model';
import { defaultModelPath } from '../model/default-model';
import type { OptionSpecs } from '../cli/args';
import { defineCommand } from '../cli/command';
import { replayCsv, type ReplayRecord } from './replay';
import { csvErrorRow, csvHeader, csvRow, formatFromPath } from './result-format';
import { engineOptionSpecs, engineOptionsFrom } from '../cli/engine-options';

const SPECS = {
  model: { type: 'string', description: 'ONNX model file (default: the shipped generic model)', placeholder: 'FILE' },
  input: { type: 'string', description: 'CSV file: timestamp, optional device, one column per model feature', required: true, placeholder: 'CSV' },
  output: { type: 'string', description: 'where results go: a .jsonl or .csv file, or - for stdout', default: '-', placeholder: 'FILE' },
  format: { type: 'string', description: 'output format (default: from the output file extension; jsonl for stdout)', choices: ['jsonl', 'csv'] },
  backend: { type: 'string', description: 'inference backend (auto: native where onnxruntime-node loads and agrees, else wasm)', default: 'auto', choices: BACKEND_CHOICES },
  device: { type: 'string', description: 'device id for files without a device column (default: the file name)' },
  'skip-invalid': { type: 'boolean', description: 'record bad rows and go on, instead of stopping at the first', default: false },
  ...engineOptionSpecs,
} satisfies OptionSpecs;

const USAGE = 'edgelstm replay --input CSV [--model FILE] [--output FILE.jsonl|FILE.csv|-]';

export const main = defineCommand({ usage: USAGE, options: SPECS }, async (o) => {
  const model = await loadModel(o.model ?? defaultModelPath(), { backend: o.backend as BackendChoice });
  const engine = new Engine(model, engineOptionsFrom(o));
  const format = (o.format as 'jsonl' | 'csv' | undefined) ?? (o.output === '-' ? 'jsonl' : formatFromPath(o.output));
  const out: NodeJS.WritableStream | WriteStream = o.output === '-' ? process.stdout : createWriteStream(o.output);
  const { features, targets } = engine.shape;
  const header = csvHeader(features, targets, engine.options.horizon);
  const columns = header.split(',').length;
  const write = async (s: string): Promise<void> => {
    if (!out.write(s)) await once(out, 'drain');
  };
  if (format === 'csv') await write(`${header}\n`);
  const onRecord = async (r: ReplayRecord): Promise<void> => {
    if (format === 'csv') {
      await write(`${'result' in r ? csvRow(r.line, r.result, targets.length) : csvErrorRow(r.line, columns, r.error.code, r.error.message)}\n`);
    } else {
      await write(`${JSON.stringify('result' in r ? r.result : { line: r.line, error: r.error })}\n`);
    }
  };
  const opts = o.device !== undefined ? { device: o.device, skipInvalid: o['skip-invalid'] } : { skipInvalid: o['skip-invalid'] };
  const summary = await replayCsv(engine, o.input, onRecord, opts);
  await engine.close();
  await model.release();
  if (out !== process.stdout) {
    (out as WriteStream).end();
    await once(out, 'finish');
  }
  process.stderr.write(`edgelstm replay: ${summary.rows} rows, ${summary.results} results, ${summary.invalid} invalid, ${summary.anomalies} anomalies, ${summary.devices} devices (${model.id})\n`);
  return 0;
});
