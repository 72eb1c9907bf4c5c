/**
 * The detector's CPU per reading, paired (`npm run bench:detector`): the
 * current build's scoreReading (runtime/engine/scoring/) and a previous
 * build's (`--previous <dir>/dist`, from bench/build-previous.sh) score the
 * same readings in one process, alternating round by round, so machine
 * noise falls on both alike. Prints the median CPU per reading of each and
 * the median of the per-round ratios, and whether every output (likelihood,
 * score, mask, event) was bit-identical. Without --previous the current
 * build is paired with itself (the bench's own noise, about 1.00x).
 *
 *   node dist/bench/detector.js --previous /tmp/edgelstm-previous/dist
 *     [--devices 1000,10000] [--targets 1] [--rounds 400] [--order in-turn|random] [--repeats 3]
 */
import { join, resolve } from 'node:path';
import { resolveEngineOptions } from '../runtime/engine/options';
import * as currentScorer from '../runtime/engine/scoring/device-scorer';
import type { ReadingScore, ScoreInput } from '../runtime/engine/scoring/device-scorer';
import type { ScoringOptions } from '../runtime/engine/scoring/scoring-options';

const argOf = (name: string): string | undefined => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const previousDir = argOf('--previous');
const devicesList = (argOf('--devices') ?? '1000,10000').split(',').map(Number);
const T = Number(argOf('--targets') ?? '1');
const rounds = Number(argOf('--rounds') ?? '400');
const repeats = Math.max(1, Number(argOf('--repeats') ?? '3'));
const orders = (argOf('--order') ?? 'in-turn,random').split(',');

interface Scorer {
  ReadingScore: new () => ReadingScore;
  scoreReading(o: ScoringOptions, threshold: number, a: Float64Array, off: number, T: number, inp: ScoreInput, out: ReadingScore): boolean;
  scoringWidth(targets: number): number;
}
interface Options {
  resolveEngineOptions: typeof resolveEngineOptions;
}
type Mutable<X> = { -readonly [K in keyof X]: X[K] };

function load(dir: string | undefined): { scorer: Scorer; options: Options } {
  if (dir === undefined) return { scorer: currentScorer, options: { resolveEngineOptions } };
  const root = resolve(dir);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const scorer = require(join(root, 'runtime/engine/scoring/device-scorer')) as Scorer;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const options = require(join(root, 'runtime/engine/options')) as Options;
  return { scorer, options };
}

/** One build's fleet of detector records, fed the same readings as the other's. */
class Side {
  readonly a: Float64Array;
  readonly expected: Float64Array;
  readonly values: number[];
  readonly inp: Mutable<ScoreInput>;
  readonly out: ReadingScore;
  readonly opts: ReturnType<typeof resolveEngineOptions>;
  readonly W: number;
  /** A hash of every output. */
  hash = 0;
  readonly #bits = new Float64Array(4);
  readonly #words = new Uint32Array(this.#bits.buffer);

  constructor(readonly s: { scorer: Scorer; options: Options }, readonly devices: number) {
    this.opts = s.options.resolveEngineOptions({});
    this.W = s.scorer.scoringWidth(T);
    this.a = new Float64Array(devices * this.W);
    this.expected = new Float64Array(devices * T);
    this.values = new Array<number>(T).fill(0);
    this.inp = { values: this.values, targetIndex: this.values.map((_, i) => i), expected: null, expectedOff: 0, ts: 0, steps: 0, warmup: this.opts.warmup, warmupMs: this.opts.warmupMs };
    this.out = new s.scorer.ReadingScore();
  }

  /** CPU µs per reading of one round over the fleet in `order`. */
  round(order: Uint32Array, r: number): number {
    const { a, expected, values, inp, out, opts, W } = this;
    const score = this.s.scorer.scoreReading;
    const t0 = cpuUs();
    for (let k = 0; k < order.length; k++) {
      const d = order[k]!;
      for (let t = 0; t < T; t++) {
        const v = Math.sin(d + r * 0.1 + t);
        values[t] = v;
        expected[d * T + t] = v + 0.01 * Math.sin(r * 1.3 + d + t);
      }
      inp.expectedOff = d * T;
      inp.ts = 1_700_000_000_000 + r * 600_000;
      inp.steps = r;
      inp.expected = r === 0 ? null : expected;
      score(opts.scoring, opts.threshold, a, d * W, T, inp, out);
      const b = this.#bits;
      b[0] = out.likelihood;
      b[1] = out.score;
      b[2] = out.mask;
      b[3] = out.event;
      for (let j = 0; j < 8; j++) this.hash = (Math.imul(this.hash, 31) + this.#words[j]!) | 0;
    }
    return (cpuUs() - t0) / order.length;
  }
}

function cpuUs(): number {
  const c = process.cpuUsage();
  return c.user + c.system;
}

function median(v: number[]): number {
  const s = [...v].sort((p, q) => p - q);
  return s[Math.floor(s.length / 2)]!;
}

/** One paired run: medians over the rounds past the first 10 (warm-up of the JIT and of the statistics). */
function pairedRun(devices: number, random: boolean): { prevUs: number; curUs: number; ratio: number; same: boolean } {
  const prev = new Side(load(previousDir), devices);
  const cur = new Side(load(undefined), devices);
  const order = Uint32Array.from({ length: devices }, (_, i) => i);
  let seed = 1;
  const rnd = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296;
  const ratios: number[] = [];
  const pu: number[] = [];
  const cu: number[] = [];
  for (let r = 0; r < rounds; r++) {
    if (random) {
      for (let i = devices - 1; i > 0; i--) {
        const j = Math.floor(rnd() * (i + 1));
        const x = order[i]!;
        order[i] = order[j]!;
        order[j] = x;
      }
    }
    // Alternate which goes first, so neither always meets the caches the other left.
    let p: number;
    let c: number;
    if (r % 2 === 0) {
      p = prev.round(order, r);
      c = cur.round(order, r);
    } else {
      c = cur.round(order, r);
      p = prev.round(order, r);
    }
    if (r >= 10) {
      ratios.push(p / c);
      pu.push(p);
      cu.push(c);
    }
  }
  return { prevUs: median(pu), curUs: median(cu), ratio: median(ratios), same: prev.hash === cur.hash };
}

console.log(`edgelstm detector benchmark: node ${process.version}, ${T} target(s), ${rounds} rounds, previous: ${previousDir ?? '(the current build itself)'}`);
console.log('| devices | order | previous µs/reading | current µs/reading | previous / current (median of per-round ratios) | outputs bit-identical |');
console.log('|---|---|---|---|---|---|');
let allSame = true;
for (const devices of devicesList) {
  for (const order of orders) {
    const runs = Array.from({ length: repeats }, () => pairedRun(devices, order === 'random'));
    const same = runs.every((x) => x.same);
    allSame &&= same;
    const m = (f: (x: (typeof runs)[number]) => number): string => median(runs.map(f)).toFixed(3);
    console.log(`| ${devices} | ${order} | ${m((x) => x.prevUs)} | ${m((x) => x.curUs)} | ${m((x) => x.ratio)}x | ${same ? 'yes' : 'NO'} |`);
  }
}
console.log(`medians of ${repeats} paired runs${allSame ? '' : '; some outputs differ between the builds'}`);
