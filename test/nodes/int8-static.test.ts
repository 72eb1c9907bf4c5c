// An int8-static model (edgelstm quantize --mode static) served by the Node-RED nodes from a file,
// unchanged: the forecasts equal, bit for bit, an Engine's fed one device at a time.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Engine } from '../../runtime/engine/engine';
import { loadModel } from '../../runtime/model/load-model';
import { quantizeModel } from '../../models/quantize/quantize-model';
import { makeTestModel, tempDir } from '../helpers/models';
import { helper, modelConfig, NODES, predictFlow, series, Sink } from './flow-helpers';

t.afterEach(() => helper.unload());

const dir = tempDir('edgelstm-nodes-int8-');
const modelPath = join(dir, 'int8-static.onnx');
writeFileSync(modelPath, quantizeModel(makeTestModel({ hidden: 16, seed: 81, normalization: { mode: 'per-device', window: 50, minStd: 1e-3 } }).bytes, { mode: 'static' }));

const devices = 4;
// Devices at different levels and amplitudes, so a per-batch activation scale would show.
const readings = (d: number): number[] => series(20, d * 7).map((v) => v * (1 + d * d) + 50 * d);

t.test('int8-static in Node-RED: forecasts bit-identical to the engine alone, devices batched together', async (t) => {
  await helper.load(NODES, [modelConfig('m', { source: 'file', path: modelPath, maxDelay: 20 }), ...predictFlow('p', 'm')]);
  const out = new Sink(helper.getNode('p-out'));
  const got = new Map<string, number[]>();
  const steps = readings(0).length;
  for (let i = 0; i < steps; i++) {
    for (let d = 0; d < devices; d++) helper.getNode('p').receive({ topic: `d${d}`, payload: readings(d)[i] });
    for (let k = 0; k < devices; k++) {
      const r = (await out.next()).payload as { device: string; forecast: number[] };
      got.set(`${r.device}@${i}`, r.forecast);
    }
  }

  const model = await loadModel(modelPath, { backend: 'native' });
  t.equal(model.metadata.quantization.scheme, 'int8-static', 'the file is the int8-compute form');
  const engine = new Engine(model, { maxDelayMs: 0 });
  let same = 0;
  for (let d = 0; d < devices; d++) {
    for (const [i, v] of readings(d).entries()) {
      const r = await engine.push({ device: `d${d}`, ts: i, values: [v] });
      if (JSON.stringify(got.get(`d${d}@${i}`)) === JSON.stringify(r.forecast)) same++;
      else t.comment(`d${d}@${i}`, got.get(`d${d}@${i}`), r.forecast);
    }
  }
  await engine.close();
  await model.release();
  t.equal(same, devices * steps, 'every forecast identical to the engine fed one device at a time');
  const shared = (helper.getNode('m') as unknown as { engine: { ready(): Promise<Engine> } }).engine;
  const batches = (await shared.ready()).counters.batches;
  t.ok(batches < devices * steps, `the nodes' engine batched devices together (${batches} inference calls for ${devices * steps} readings)`);
});
