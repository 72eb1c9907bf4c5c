import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The package root: the nearest folder above this file with a package.json (works from dist/ and from sources). */
export function packageRoot(): string {
  let dir = __dirname;
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) return join(__dirname, '..', '..');
    dir = up;
  }
  return dir;
}

/** The shipped generic model: univariate, per-device normalization, fp32. */
export function defaultModelPath(): string {
  return join(packageRoot(), 'models', 'generic', 'generic.onnx');
}
