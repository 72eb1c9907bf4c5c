#!/usr/bin/env node
// After tsc: copies the part of onnxruntime-web that runs in Node (the Node bundle, the
// simd-threaded wasm build and its loader, 14 MB of the package's 139 MB) into
// dist/vendor/onnxruntime-web/, so the published package carries its wasm runtime and
// needs no onnxruntime download or install script. Source-map comments are dropped with
// the maps they point to.
'use strict';
const { copyFileSync, mkdirSync, readFileSync, writeFileSync } = require('node:fs');
const { dirname, join } = require('node:path');

const FILES = ['ort.node.min.js', 'ort-wasm-simd-threaded.mjs', 'ort-wasm-simd-threaded.wasm'];
const root = join(__dirname, '..');
// The package's Node entry (its exports do not include package.json) sits in its dist/ folder.
const from = dirname(require.resolve('onnxruntime-web', { paths: [root] }));
const out = join(root, 'dist', 'vendor', 'onnxruntime-web');
const { version, license } = JSON.parse(readFileSync(join(from, '..', 'package.json'), 'utf8'));
mkdirSync(out, { recursive: true });
let bytes = 0;
for (const f of FILES) {
  if (f.endsWith('.wasm')) copyFileSync(join(from, f), join(out, f));
  else writeFileSync(join(out, f), readFileSync(join(from, f), 'utf8').replace(/\n?\/\/# sourceMappingURL=\S+\s*$/, '\n'));
  bytes += readFileSync(join(out, f)).length;
}
writeFileSync(join(out, 'package.json'), JSON.stringify({ name: 'onnxruntime-web-node-subset', version, license, private: true, main: 'ort.node.min.js' }, null, 2) + '\n');
writeFileSync(
  join(out, 'LICENSE'),
  `onnxruntime-web ${version} (https://github.com/microsoft/onnxruntime), files ${FILES.join(', ')}.

MIT License

Copyright (c) Microsoft Corporation

Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
`,
);
console.log(`vendor-ort-wasm: onnxruntime-web ${version} Node subset, ${(bytes / 1e6).toFixed(1)} MB, in dist/vendor/onnxruntime-web`);
