import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../runtime/replay/replay-command';
import { splitCsvLine } from '../../runtime/replay/csv';
import { parseTimestamp } from '../../runtime/util/timestamp';
import { Engine } from '../../runtime/engine/engine';
import { loadModel } from '../../runtime/model/load-model';
import type { Result } from '../../runtime/engine/sample';
import { tempDir, writeTestModel } from '../helpers/models';
import { captureOutput } from '../helpers/capture';

const dir = tempDir();
const modelFile = writeTestModel(dir, { features: ['temp', 'hum'], targets: ['temp'], hidden: 8, normalization: { mode: 'per-device', window: 50, minStd: 1e-3 } });

function csv(rows: string[]): string {
  const f = join(dir, `in-${Math.random().toString(36).slice(2)}.csv`);
  writeFileSync(f, `${rows.join('\n')}\n`);
  return f;
}

const quiet = captureOutput;

const rows = ['timestamp,device,temp,hum'];
for (let i = 0; i < 60; i++) {
  rows.push(`${1700000000000 + i * 1000},pump-1,${(20 + Math.sin(i / 3)).toFixed(3)},${50 + i % 7}`);
  rows.push(`2023-11-14T22:13:${String(i % 60).padStart(2, '0')}Z,pump-2,${(30 + Math.cos(i / 4)).toFixed(3)},${40 + i % 5}`);
}
// Out-of-order and duplicate timestamps stay as they are: rows are never sorted or de-duplicated.
rows.push(`${1700000000000},pump-1,21,50`, `${1700000000000},pump-1,21,50`);
const input = csv(rows);

t.test('one JSON line per row, in input order, as the engine computes them', async (t) => {
  const out = join(dir, 'out.jsonl');
  const { value: code, stderr } = await quiet(() => main(['--model', modelFile, '--input', input, '--output', out]));
  t.equal(code, 0, stderr);
  const lines = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Result);
  t.equal(lines.length, rows.length - 1);
  t.same(lines.slice(0, 4).map((r) => r.device), ['pump-1', 'pump-2', 'pump-1', 'pump-2']);
  t.equal(lines[1]!.ts, Date.parse('2023-11-14T22:13:00Z'));
  t.same(Object.keys(lines[5]!).sort(), ['anomaly', 'anomalous', 'device', 'episode', 'error', 'expected', 'forecast', 'likelihood', 'model', 'score', 'ts', 'values', 'warmup'].sort());
  t.match(stderr, /122 rows, 122 results, 0 invalid/);

  // The same samples through a fresh engine, one at a time, give the same results.
  const m = await loadModel(modelFile);
  const engine = new Engine(m, { maxDelayMs: 0 });
  for (let i = 0; i < 8; i++) {
    const r = lines[i]!;
    const direct = await engine.push({ device: r.device, ts: r.ts, values: r.values });
    t.same(direct.forecast, r.forecast, `row ${i + 2}`);
  }
  await m.release();
});

t.test('CSV output by extension', async (t) => {
  const out = join(dir, 'out.csv');
  const { value: code } = await quiet(() => main(['--model', modelFile, '--input', input, '--output', out, '--horizon', '3']));
  t.equal(code, 0);
  const text = readFileSync(out, 'utf8').trim().split('\n');
  t.equal(text[0], 'line,device,ts,value_temp,value_hum,expected_temp,error_temp,score,likelihood,anomaly,anomalous,episode,episode_peak,episode_readings,warmup,forecast1_temp,forecast2_temp,forecast3_temp,model,error_code,error_message');
  t.equal(text.length, rows.length);
  t.equal(splitCsvLine(text[3]!).length, splitCsvLine(text[0]!).length);
});

t.test('bad rows name the file, line and column; --skip-invalid records them and goes on', async (t) => {
  const bad = csv(['timestamp,device,temp,hum', '1000,a,1,2', '2000,a,oops,2', 'yesterday,a,1,2', '4000,,1,2', '5000,a,1']);
  const strict = await quiet(() => main(['--model', modelFile, '--input', bad, '--output', join(dir, 'x.jsonl')]));
  t.equal(strict.value, 1);
  t.match(strict.stderr, new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}, line 3, column temp: value is not a finite number \\(expected a number, found "oops"\\)`));
  const out = join(dir, 'skip.jsonl');
  const lenient = await quiet(() => main(['--model', modelFile, '--input', bad, '--output', out, '--skip-invalid']));
  t.equal(lenient.value, 0);
  const recs = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { error?: { line: number; column?: string; code: string } });
  t.equal(recs.length, 5);
  t.same(recs.slice(1).map((r) => [r.error?.line, r.error?.column, r.error?.code]), [[3, 'temp', 'E_BAD_VALUE'], [4, 'timestamp', 'E_BAD_TIMESTAMP'], [5, 'device', 'E_BAD_DEVICE'], [6, undefined, 'E_CSV']]);
  t.match(lenient.stderr, /5 rows, 1 results, 4 invalid/);
});

t.test('header problems and bad options are reported by name', async (t) => {
  const noCol = csv(['timestamp,device,temp', '1,a,2']);
  const r1 = await quiet(() => main(['--model', modelFile, '--input', noCol]));
  t.equal(r1.value, 1);
  t.match(r1.stderr, /line 1, column hum: the model's feature columns are missing/);
  const r2 = await quiet(() => main(['--model', modelFile, '--input', input, '--horizon', '0']));
  t.equal(r2.value, 2);
  t.match(r2.stderr, /option --horizon: expected an integer >= 1 <= 1000, found "0"/);
  const r3 = await quiet(() => main(['--model', join(dir, 'missing.onnx'), '--input', input]));
  t.match(r3.stderr, /missing.onnx: cannot read model file/);
  const r4 = await quiet(() => main(['--model', modelFile]));
  t.match(r4.stderr, /option --input/);
  const cfg = join(dir, 'cfg.json');
  writeFileSync(cfg, JSON.stringify({ input, warmup: -3 }));
  const r5 = await quiet(() => main(['--model', modelFile, '--config', cfg]));
  t.match(r5.stderr, /cfg.json: option --warmup: expected an integer >= 0/);
});

t.test('timestamps: epoch ms, ISO 8601 with and without zone (UTC)', async (t) => {
  t.equal(parseTimestamp('1700000000000'), 1700000000000);
  t.equal(parseTimestamp('2014-04-01 00:00:00'), Date.UTC(2014, 3, 1));
  t.equal(parseTimestamp('2014-04-01T01:00:00+01:00'), Date.UTC(2014, 3, 1));
  t.equal(parseTimestamp('2014-04-01'), Date.UTC(2014, 3, 1));
  t.ok(Number.isNaN(parseTimestamp('soon')));
  t.same(splitCsvLine('a,"b,c","d""e"'), ['a', 'b,c', 'd"e']);
});
