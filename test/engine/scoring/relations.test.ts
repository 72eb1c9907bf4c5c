import t from 'tap';
import { Engine } from '../../../runtime/engine/engine';
import type { Result } from '../../../runtime/engine/sample';
import { relationError, relationWidth, RELATION_MAX_TARGETS, standardize } from '../../../runtime/engine/scoring/relations';
import { controlModel } from '../../../runtime/eval/control-models';
import { mulberry32 } from '../../../runtime/contract/weights';

// Relations between a device's features (runtime/engine/scoring/relations.ts).

t.test('pairs and the median over partners', async (t) => {
  t.equal(relationWidth(1), 0, 'one feature: no pairs');
  t.equal(relationWidth(2), 1);
  t.equal(relationWidth(8), 28);
  t.equal(relationWidth(RELATION_MAX_TARGETS + 1), 0, 'beyond the limit: none (the pairs grow with the square)');
  // Four features, all pairs correlated 0.9; feature 3 is off against every partner, the others against one.
  const a = new Float64Array(6).fill(0.9);
  const z = [1, 1, 1, -2];
  const e3 = relationError(a, 0, 4, 3, z, 0.7);
  const e0 = relationError(a, 0, 4, 0, z, 0.7);
  t.ok(e3 > 5 * e0, `the broken feature stands out (${e3.toFixed(2)} against ${e0.toFixed(2)})`);
  t.ok(Number.isNaN(relationError(new Float64Array(6).fill(0.2), 0, 4, 0, z, 0.7)), 'no strong partner: no relation error');
  t.equal(standardize(3, 1, 4), 1);
  t.equal(standardize(100, 0, 1), 5, 'bounded');
  t.equal(standardize(1, 1, 0), 0, 'no spread yet');
});

/** Four sensors driven by one process; from `breakAt` on, sensor 2 follows a process of its own, inside its usual range. */
function machine(n: number, breakAt: number): number[][] {
  const r = mulberry32(7);
  const g = (): number => Math.sqrt(-2 * Math.log(r() + 1e-12)) * Math.cos(2 * Math.PI * r());
  let ar = 0;
  let own = 0;
  const rows: number[][] = [];
  for (let i = 0; i < n; i++) {
    ar = 0.95 * ar + 0.1 * g();
    own = 0.95 * own + 0.25 * g();
    const p = Math.sin((2 * Math.PI * i) / 50) + ar;
    const mine = i >= breakAt ? Math.max(-1.5, Math.min(1.5, own)) : p;
    rows.push([10 + p + 0.05 * g(), 40 + 2 * p + 0.05 * g(), 25 + 1.5 * mine + 0.05 * g(), 70 - p + 0.05 * g()]);
  }
  return rows;
}

async function run(scoring: Record<string, number>): Promise<Result[]> {
  const e = new Engine(controlModel('persistence'), { maxDelayMs: 0, features: ['a', 'b', 'c', 'd'], scoring });
  const rows = machine(1000, 600);
  const out: Result[] = [];
  for (let i = 0; i < rows.length; i++) out.push(await e.push({ device: 'm', ts: i * 1000, values: rows[i]! }));
  await e.close();
  return out;
}

t.test('a sensor that stops following the others, inside its range, is an anomaly naming it', async (t) => {
  const rs = await run({});
  t.notOk(rs.slice(400, 600).some((r) => r.anomaly), 'no alarm while the relation holds');
  const flagged = rs.slice(600, 1000).filter((r) => r.anomaly).length;
  t.ok(flagged >= 200, `flagged for most of the break (${flagged} of 400)`);
  const first = rs.slice(600).find((r) => r.episode?.state === 'start');
  t.same(first?.anomalous, ['c'], 'the broken sensor is named, not its partners');
  const without = await run({ relationWeight: 0 });
  const flaggedWithout = without.slice(600, 1000).filter((r) => r.anomaly).length;
  t.ok(flaggedWithout < flagged / 4, `each sensor on its own sees little of it (${flaggedWithout})`);
});
