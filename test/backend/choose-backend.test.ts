import t from 'tap';
import Module from 'node:module';
import { BACKEND_ENV, chooseBackend, probeDifference } from '../../runtime/backend/choose-backend';
import { createBackend } from '../../runtime/backend/create-backend';
import { loadModel } from '../../runtime/model/load-model';
import { ModelError } from '../../runtime/errors';
import { makeTestModel } from '../helpers/models';

const spec = { features: ['a', 'b'], hidden: 8, layers: 2, logvar: true };

/** Makes `require('onnxruntime-node')` throw `error` while `fn` runs, as on a machine where it is missing or broken. */
async function withoutNative<T>(error: Error, fn: () => Promise<T>): Promise<T> {
  const m = Module as unknown as { _load: (request: string, ...rest: unknown[]) => unknown };
  const load = m._load;
  m._load = function (request: string, ...rest: unknown[]) {
    if (request === 'onnxruntime-node') throw error;
    return load.call(this, request, ...rest);
  };
  try {
    return await fn();
  } finally {
    m._load = load;
  }
}

function missing(): Error {
  return Object.assign(new Error("Cannot find module 'onnxruntime-node'\nRequire stack:\n- x"), { code: 'MODULE_NOT_FOUND' });
}

t.beforeEach(() => {
  delete process.env[BACKEND_ENV];
});

t.test('auto: native where onnxruntime-node is installed, loads and agrees with the reference LSTM', async (t) => {
  const m = await loadModel(makeTestModel(spec).bytes);
  t.teardown(() => m.release());
  t.equal(m.backend.kind, 'native');
  t.same({ requested: m.backendChoice.requested, kind: m.backendChoice.kind }, { requested: 'auto', kind: 'native' });
  t.match(m.backendChoice.reason, /^onnxruntime-node loads and agrees with the reference LSTM \(max relative difference \d/);
});

t.test('auto: wasm when onnxruntime-node is not installed, and the reason says how to install it', async (t) => {
  const m = await withoutNative(missing(), () => loadModel(makeTestModel(spec).bytes));
  t.teardown(() => m.release());
  t.equal(m.backend.kind, 'wasm');
  t.match(m.backendChoice.reason, /onnxruntime-node is not installed \(npm install onnxruntime-node@1\.30\.0 --save-exact --ignore-scripts\)/);
});

t.test('auto: wasm when the native binary does not load (musl, 32-bit arm)', async (t) => {
  const err = new Error('Error loading shared library ld-linux-x86-64.so.2: No such file or directory (needed by onnxruntime_binding.node)');
  const m = await withoutNative(err, () => loadModel(makeTestModel(spec).bytes));
  t.teardown(() => m.release());
  t.equal(m.backend.kind, 'wasm');
  t.match(m.backendChoice.reason, `onnxruntime-node does not load on ${process.platform}-${process.arch}: Error loading shared library`);
});

t.test('naming native where it is missing is an error naming the backend, not a silent fallback', async (t) => {
  await withoutNative(missing(), () =>
    t.rejects(loadModel(makeTestModel(spec).bytes, { backend: 'native' }), new ModelError('backend is not available here', { field: 'backend', expected: 'native', found: 'onnxruntime-node is not installed (npm install onnxruntime-node@1.30.0 --save-exact --ignore-scripts)' })),
  );
});

t.test(`${BACKEND_ENV} overrides auto, and only auto`, async (t) => {
  process.env[BACKEND_ENV] = 'wasm';
  const bytes = makeTestModel(spec).bytes;
  const a = await loadModel(bytes);
  t.same(a.backendChoice, { requested: 'auto', kind: 'wasm', reason: `${BACKEND_ENV}=wasm` });
  await a.release();
  const b = await loadModel(bytes, { backend: 'reference' });
  t.same(b.backendChoice, { requested: 'reference', kind: 'reference', reason: 'configured' });
  await b.release();
  process.env[BACKEND_ENV] = 'gpu';
  await t.rejects(loadModel(bytes), new ModelError('unknown backend', { field: BACKEND_ENV, expected: 'auto | native | wasm | reference', found: 'gpu' }));
});

t.test('the probe sees agreement of one model and disagreement of another', async (t) => {
  const one = makeTestModel({ ...spec, seed: 1 });
  const other = makeTestModel({ ...spec, seed: 2 });
  const dims = { F: 2, H: 8, L: 2, T: 2 };
  const make = (kind: 'native' | 'wasm', m: typeof one) => createBackend(kind, m.bytes, m.metadata.io, dims, {}, () => m.weights);
  const native = await make('native', one);
  const wasm = await make('wasm', one);
  const wasmOther = await make('wasm', other);
  t.teardown(() => Promise.all([native.release(), wasm.release(), wasmOther.release()]));
  t.ok((await probeDifference(native, wasm, dims)) < 1e-5, 'native and wasm of the same model agree');
  t.ok((await probeDifference(native, wasmOther, dims)) > 1e-2, 'another model\'s outputs do not');
  const chosen = await chooseBackend('wasm', one.bytes, one.metadata.io, dims, {}, () => one.weights);
  t.equal(chosen.backend.kind, 'wasm');
  await chosen.backend.release();
});
