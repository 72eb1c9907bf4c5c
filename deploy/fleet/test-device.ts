/**
 * A small edgelstm device for fleet tests: connects to a broker, loads a
 * model, runs an Engine and the model-update agent, and swaps the Engine's
 * model when an update is accepted. Not a product: `edgelstm run` is.
 *
 *   test-device --broker mqtt://127.0.0.1:1883 --name pi-01 --model m.onnx
 *               [--features a,b] [--public-key key.pem] [--backend reference]
 *
 * --features makes it refuse a model whose features differ (like a service
 * configured for one sensor layout). Prints "ready <name>" once subscribed.
 */
import { readFileSync } from 'node:fs';
import mqtt from 'mqtt';
import { Engine } from '../../runtime/engine/engine';
import { loadModel, type Model } from '../../runtime/model/load-model';
import type { BackendKind } from '../../runtime/backend/backend';
import { resolveAcquirePolicy } from '../../runtime/acquire';
import { startModelUpdateAgent } from '../../runtime/service/model-update-agent';

function arg(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
}

export async function runTestDevice(argv: string[]): Promise<void> {
  const broker = arg(argv, 'broker');
  const name = arg(argv, 'name');
  const modelPath = arg(argv, 'model');
  if (!broker || !name || !modelPath) throw new Error('usage: test-device --broker URL --name NAME --model FILE [--features a,b] [--public-key FILE]');
  const features = arg(argv, 'features')?.split(',');
  const keyFile = arg(argv, 'public-key');
  const backend = (arg(argv, 'backend') ?? 'reference') as BackendKind;

  const bytes = readFileSync(modelPath);
  let model: Model = await loadModel(bytes, { backend, name: modelPath });
  let engine = new Engine(model);
  const client = mqtt.connect(broker, { clientId: `edgelstm-test-device-${name}`, reconnectPeriod: 500 });
  const stop = startModelUpdateAgent({
    client,
    name,
    current: { bytes, model: model.id },
    // Tests serve models over plain http on loopback; without a key the device is told to accept unsigned models.
    policy: resolveAcquirePolicy({ ...(keyFile ? { publicKeyPem: readFileSync(keyFile, 'utf8') } : { allowUnsigned: true }), allowHttp: true }),
    log: { info: (m) => process.stdout.write(`${name}: ${m}\n`), warn: (m) => process.stdout.write(`${name}: ${m}\n`) },
    async apply(next) {
      const loaded = await loadModel(next, { backend, name: `${name}:update` });
      if (features && loaded.metadata.features.join(',') !== features.join(',')) {
        await loaded.release();
        throw new Error(`model features [${loaded.metadata.features.join(', ')}] do not match this device's sensors [${features.join(', ')}]`);
      }
      const old = engine;
      const oldModel = model;
      engine = new Engine(loaded);
      model = loaded;
      await old.close();
      await oldModel.release();
      return { model: loaded.id };
    },
  });
  client.once('connect', () => setTimeout(() => process.stdout.write(`ready ${name}\n`), 50));
  const shutdown = (): void => {
    void stop().then(() => client.end(true, {}, () => process.exit(0)));
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

if (require.main === module) {
  runTestDevice(process.argv.slice(2)).catch((e: unknown) => {
    process.stderr.write(`test-device: ${(e as Error).message}\n`);
    process.exit(1);
  });
}
