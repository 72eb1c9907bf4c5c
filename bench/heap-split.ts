/**
 * Bytes allocated by function, from a sampling heap profile (bench/heap-sample.ts): each frame's
 * self bytes as a share of all sampled bytes, largest first.
 *
 *   node dist/bench/heap-split.js FILE.heapprofile [TOP=40]
 */
import { readFileSync } from 'node:fs';

interface HeapNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: HeapNode[];
}

const [file, topArg] = process.argv.slice(2);
if (file === undefined) {
  console.error('usage: node dist/bench/heap-split.js FILE.heapprofile [TOP]');
  process.exit(2);
}
const head = (JSON.parse(readFileSync(file, 'utf8')) as { head: HeapNode }).head;
const self = new Map<string, number>();
let total = 0;
const stack: HeapNode[] = [head];
for (let n = stack.pop(); n !== undefined; n = stack.pop()) {
  const f = n.callFrame;
  const key = `${f.functionName || '(anonymous)'} ${f.url.replace(/.*\/(dist|node_modules)\//, '$1/')}:${f.lineNumber}`;
  if (n.selfSize > 0) {
    self.set(key, (self.get(key) ?? 0) + n.selfSize);
    total += n.selfSize;
  }
  stack.push(...n.children);
}
console.log(`sampled ${(total / 1e6).toFixed(1)} MB`);
for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(topArg ?? 40))) console.log(`${((100 * v) / total).toFixed(1).padStart(5)}%  ${k}`);
