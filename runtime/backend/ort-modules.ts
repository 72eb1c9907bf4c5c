import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { OrtModule } from './ort-backend';

/** The version of onnxruntime-node edgelstm is tested with; what the README's native install names. */
export const NATIVE_PACKAGE = 'onnxruntime-node@1.30.0';

/** A runtime that is not there or does not load on this machine; `reason` says which, for logs and /health. */
export class RuntimeUnavailable extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'RuntimeUnavailable';
  }
}

/**
 * onnxruntime-node, which edgelstm does not install itself (its install step downloads
 * CUDA libraries on linux x64). Throws RuntimeUnavailable when it is not installed or its
 * binary does not load (musl, 32-bit arm, a broken install).
 */
export function loadNative(): OrtModule {
  try {
    return require('onnxruntime-node') as OrtModule;
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'MODULE_NOT_FOUND' && /'onnxruntime-node'/.test(err.message)) {
      throw new RuntimeUnavailable(`onnxruntime-node is not installed (npm install ${NATIVE_PACKAGE} --save-exact --ignore-scripts)`);
    }
    throw new RuntimeUnavailable(`onnxruntime-node does not load on ${process.platform}-${process.arch}: ${firstLine(err.message)}`);
  }
}

/** Where the build puts onnxruntime-web's Node files (scripts/vendor-ort-wasm.js), from source and from dist/. */
const VENDORED = [join(__dirname, '..', '..', 'vendor', 'onnxruntime-web'), join(__dirname, '..', '..', 'dist', 'vendor', 'onnxruntime-web')];

/** ONNX Runtime's wasm build, single-threaded: the copy the package ships, else an installed onnxruntime-web. */
export function loadWasm(): OrtModule {
  const dir = VENDORED.find((d) => existsSync(join(d, 'ort.node.min.js')));
  const ort = require(dir ? join(dir, 'ort.node.min.js') : 'onnxruntime-web') as OrtModule & { env: { wasm: { numThreads: number } } };
  // Threads in wasm need SharedArrayBuffer workers; one thread is what a small board wants anyway.
  ort.env.wasm.numThreads = 1;
  return ort;
}

function firstLine(s: string): string {
  return s.split('\n')[0]!.slice(0, 300);
}
