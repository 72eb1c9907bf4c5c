#!/usr/bin/env node
// After tsc: copies each Node-RED node's editor files (<type>.html, locales/, icons/)
// next to its compiled .js in dist/nodes/<type>/, where Node-RED looks for them.
'use strict';
const { cpSync, existsSync, readdirSync, statSync } = require('node:fs');
const { join } = require('node:path');

const root = join(__dirname, '..');
const src = join(root, 'nodes');
const out = join(root, 'dist', 'nodes');
let copied = 0;
for (const dir of readdirSync(src)) {
  const from = join(src, dir);
  if (!statSync(from).isDirectory()) continue;
  for (const entry of readdirSync(from)) {
    const isAsset = entry.endsWith('.html') || entry === 'locales' || entry === 'icons';
    if (!isAsset) continue;
    cpSync(join(from, entry), join(out, dir, entry), { recursive: true });
    copied++;
  }
  const html = join(out, dir, `${dir}.html`);
  if (existsSync(join(from, `${dir}.ts`)) && !existsSync(html)) {
    console.error(`build-nodes-assets: ${dir}/${dir}.ts has no ${dir}.html`);
    process.exitCode = 1;
  }
}
console.log(`build-nodes-assets: ${copied} editor assets copied to dist/nodes`);
