import t from 'tap';
import { StateCopier } from '../../runtime/engine/step-batch';

/** The plain definition: batch row i of layer l holds store row (slot, l), or zeros for slot -1. */
function naiveGather(sh: Float32Array, slots: number[], B: number, L: number, H: number): Float32Array {
  const out = new Float32Array(L * B * H);
  for (let i = 0; i < B; i++) for (let l = 0; l < L; l++) for (let k = 0; k < H; k++) out[(l * B + i) * H + k] = slots[i]! < 0 ? 0 : sh[(slots[i]! * L + l) * H + k]!;
  return out;
}

function slotPatterns(B: number, capacity: number): [string, number[]][] {
  const consecutive = Array.from({ length: B }, (_, i) => 5 + i);
  const shuffled = [...consecutive].sort((a, b) => ((a * 7919) % 101) - ((b * 7919) % 101));
  const runsWithGaps = consecutive.map((s, i) => (i % 37 === 36 ? -1 : i > B / 2 ? s + 3 : s));
  const reversed = [...consecutive].reverse();
  return [['consecutive', consecutive], ['shuffled', shuffled], ['runs, fresh devices and a jump', runsWithGaps], ['reversed', reversed], ['all fresh', new Array<number>(B).fill(-1)]].map(([n, s]) => [n as string, (s as number[]).map((x) => Math.min(x, capacity - 1))]);
}

for (const [L, H] of [[1, 32], [1, 5], [2, 8]] as const) {
  t.test(`gather and scatter move exactly the rows named by the slots (L=${L}, H=${H})`, async (t) => {
    const B = 200;
    const capacity = 260;
    const copier = new StateCopier(L, H);
    for (const [name, slots] of slotPatterns(B, capacity)) {
      const sh = Float32Array.from({ length: capacity * L * H }, (_, i) => Math.sin(i) + i * 1e-3);
      const sc = Float32Array.from({ length: capacity * L * H }, (_, i) => Math.cos(i) - i * 1e-3);
      const bh = new Float32Array(L * B * H).fill(9);
      const bc = new Float32Array(L * B * H).fill(9);
      copier.gather(bh, bc, sh, sc, slots, B);
      t.same(bh, naiveGather(sh, slots, B, L, H), `${name}: h gathered`);
      t.same(bc, naiveGather(sc, slots, B, L, H), `${name}: c gathered`);
      // Scatter the batch back, shifted, to the (distinct, live) slots; other rows stay as they were.
      const live = [...new Set(slots.filter((s) => s >= 0))];
      if (live.length !== slots.filter((s) => s >= 0).length) continue;
      const hn = bh.map((v) => v + 1);
      const cn = bc.map((v) => v - 1);
      const sh2 = sh.slice();
      const sc2 = sc.slice();
      const scatterSlots = slots.map((s, i) => (s >= 0 ? s : capacity - 1 - (i % 3)));
      if (new Set(scatterSlots).size !== B) continue;
      copier.scatter(hn, cn, sh2, sc2, scatterSlots, B);
      const wantH = sh.slice();
      const wantC = sc.slice();
      for (let i = 0; i < B; i++) for (let l = 0; l < L; l++) for (let k = 0; k < H; k++) {
        wantH[(scatterSlots[i]! * L + l) * H + k] = hn[(l * B + i) * H + k]!;
        wantC[(scatterSlots[i]! * L + l) * H + k] = cn[(l * B + i) * H + k]!;
      }
      t.same(sh2, wantH, `${name}: h scattered`);
      t.same(sc2, wantC, `${name}: c scattered`);
    }
  });
}
