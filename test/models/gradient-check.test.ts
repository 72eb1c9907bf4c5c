import t from 'tap';
import { ParamLayout, type NetShape } from '../../runtime/learn/param-layout';
import { WindowGradient, type WindowNet } from '../../runtime/learn/window-gradient';
import { GruWindowGradient } from '../../runtime/learn/gru-window-gradient';
import { mulberry32 } from '../../runtime/contract/weights';
import { referenceForward } from '../../runtime/backend/reference-lstm';

function makeNet(layout: ParamLayout, steps: number): WindowNet {
  return layout.gates === 3 ? new GruWindowGradient(layout, steps) : new WindowGradient(layout, steps);
}

/** Central finite differences of the summed window loss, against backpropagation, for every parameter. */
function check(shape: NetShape, steps: number, seed: number): { worst: number; params: number } {
  const layout = new ParamLayout(shape);
  const p = layout.init(seed);
  const rand = mulberry32(seed + 1);
  // Perturb every weight (including the zero-initialized log-variance head) so no gradient is trivially zero.
  for (let i = 0; i < p.length; i++) p[i] += (rand() - 0.5) * 0.4;
  const x = Float64Array.from({ length: steps * shape.inputSize }, () => rand() * 2 - 1);
  const y = Float64Array.from({ length: steps * shape.outputs }, () => rand() * 2 - 1);
  const net = makeNet(layout, steps + 3);
  const grad = new Float64Array(layout.size);
  net.lossAndGrad(p, grad, x, 0, y, 0, steps);
  // 1e-4: truncation error is O(eps^2) ~ 1e-8, and roundoff on a loss of ~10 stays near 1e-12 / eps.
  const eps = 1e-4;
  let worst = 0;
  for (let i = 0; i < p.length; i++) {
    const keep = p[i]!;
    p[i] = keep + eps;
    const up = net.forward(p, x, 0, y, 0, steps);
    p[i] = keep - eps;
    const down = net.forward(p, x, 0, y, 0, steps);
    p[i] = keep;
    const numeric = (up - down) / (2 * eps);
    const rel = Math.abs(numeric - grad[i]!) / Math.max(1e-4, Math.abs(numeric) + Math.abs(grad[i]!));
    worst = Math.max(worst, rel);
  }
  return { worst, params: p.length };
}

for (const shape of [
  { inputSize: 3, hiddenSize: 4, layers: 1, outputs: 2, logvar: false },
  { inputSize: 2, hiddenSize: 3, layers: 2, outputs: 1, logvar: false },
  { inputSize: 2, hiddenSize: 3, layers: 2, outputs: 2, logvar: true },
  { inputSize: 3, hiddenSize: 4, layers: 1, outputs: 2, logvar: false, cell: 'gru' as const },
  { inputSize: 2, hiddenSize: 3, layers: 2, outputs: 2, logvar: true, cell: 'gru' as const },
  { inputSize: 3, hiddenSize: 4, layers: 1, outputs: 2, logvar: false, huberDelta: 0.3 },
  { inputSize: 2, hiddenSize: 3, layers: 2, outputs: 2, logvar: false, huberDelta: 0.3, cell: 'gru' as const },
  { inputSize: 3, hiddenSize: 4, layers: 1, outputs: 2, logvar: false, residual: [2, 0] },
  { inputSize: 3, hiddenSize: 4, layers: 2, outputs: 1, logvar: false, huberDelta: 0.3, residual: [1] },
  { inputSize: 2, hiddenSize: 3, layers: 1, outputs: 2, logvar: true, residual: [1, 0] },
  { inputSize: 3, hiddenSize: 4, layers: 1, outputs: 2, logvar: false, cell: 'gru' as const, residual: [2, 0] },
  { inputSize: 2, hiddenSize: 3, layers: 2, outputs: 1, logvar: true, cell: 'gru' as const, residual: [1] },
] as NetShape[]) {
  t.test(`gradient matches finite differences: ${shape.cell ?? 'lstm'} F=${shape.inputSize} H=${shape.hiddenSize} L=${shape.layers} T=${shape.outputs}${shape.logvar ? ' +logvar' : ''}${shape.huberDelta ? ` huber ${shape.huberDelta}` : ''}${shape.residual ? ` residual [${shape.residual.join(', ')}]` : ''}`, (t) => {
    const { worst, params } = check(shape, 6, 11);
    t.ok(worst < 1e-5, `worst relative error ${worst.toExponential(2)} over ${params} parameters`);
    t.end();
  });
}

t.test('the Huber loss: squared error within delta, 2 delta |e| - delta^2 beyond', (t) => {
  const base = { inputSize: 2, hiddenSize: 3, layers: 1, outputs: 1, logvar: false };
  const p = new ParamLayout(base).init(5);
  const x = Float64Array.from([0.5, -0.25]);
  for (const target of [0.01, 3, -3]) {
    const y = Float64Array.from([target]);
    const squared = new WindowGradient(new ParamLayout(base), 2).forward(p, x, 0, y, 0, 1);
    const e = Math.sqrt(squared);
    for (const delta of [0.05, 0.5, 10]) {
      const huber = new WindowGradient(new ParamLayout({ ...base, huberDelta: delta }), 2).forward(p, x, 0, y, 0, 1);
      const want = e > delta ? 2 * delta * e - delta * delta : e * e;
      t.ok(Math.abs(huber - want) < 1e-12, `target ${target}, |e| ${e.toFixed(3)}, delta ${delta}: ${huber} (want ${want})`);
    }
  }
  t.end();
});

t.test('the gradient check can fail: a corrupted gradient is caught', (t) => {
  const shape = { inputSize: 2, hiddenSize: 3, layers: 1, outputs: 1, logvar: false };
  const layout = new ParamLayout(shape);
  const p = layout.init(5);
  const x = Float64Array.from({ length: 8 }, (_, i) => Math.sin(i));
  const y = Float64Array.from({ length: 4 }, (_, i) => Math.cos(i));
  const net = new WindowGradient(layout, 4);
  const grad = new Float64Array(layout.size);
  net.lossAndGrad(p, grad, x, 0, y, 0, 4);
  const i = layout.layers[0]!.R + 2;
  const eps = 1e-6;
  const keep = p[i]!;
  p[i] = keep + eps;
  const up = net.forward(p, x, 0, y, 0, 4);
  p[i] = keep - eps;
  const down = net.forward(p, x, 0, y, 0, 4);
  const numeric = (up - down) / (2 * eps);
  t.ok(Math.abs(numeric - grad[i]!) < 1e-6, 'true gradient agrees');
  t.ok(Math.abs(numeric - grad[i]! * 1.01) > 1e-6 || Math.abs(numeric) < 1e-9, 'a 1% error is visible');
  t.end();
});

for (const cell of ['lstm', 'gru'] as const) {
  t.test(`a residual head predicts the target's current input plus the head (${cell})`, (t) => {
    // Inputs of 3 features, targets features 2 and 0: with the head at zero the prediction is persistence.
    const shape: NetShape = { inputSize: 3, hiddenSize: 4, layers: 1, outputs: 2, logvar: false, cell, residual: [2, 0] };
    const layout = new ParamLayout(shape);
    const p = layout.init(5);
    const steps = 5;
    const x = Float64Array.from({ length: steps * 3 }, (_, i) => Math.sin(i * 0.9));
    const y = Float64Array.from({ length: steps * 2 }, (_, i) => Math.cos(i * 0.4));
    const { residual: _skip, ...plainShape } = shape;
    const plain = makeNet(new ParamLayout(plainShape), steps);
    const skip = makeNet(layout, steps);
    let persistence = 0;
    for (let s = 0; s < steps; s++) persistence += (x[s * 3 + 2]! - y[s * 2]!) ** 2 + (x[s * 3]! - y[s * 2 + 1]!) ** 2;
    const q = Float64Array.from(p);
    q.fill(0, layout.headW, layout.headB + 2);
    t.ok(Math.abs(skip.forward(q, x, 0, y, 0, steps) - persistence) < 1e-12, 'head at zero: the loss of persistence');
    // With the head's own output o, the prediction is x + o: the loss against y equals the plain net's loss against y - x.
    const shifted = Float64Array.from(y, (v, i) => v - x[Math.floor(i / 2) * 3 + (i % 2 === 0 ? 2 : 0)]!);
    const want = plain.forward(p, x, 0, shifted, 0, steps);
    t.ok(Math.abs(skip.forward(p, x, 0, y, 0, steps) - want) < 1e-12, `loss ${skip.forward(p, x, 0, y, 0, steps)} = plain loss on y - x ${want}`);
    // The gradient with the skip differs from the one without: backward sees the skipped prediction.
    const g1 = new Float64Array(layout.size);
    const g0 = new Float64Array(layout.size);
    skip.lossAndGrad(p, g1, x, 0, y, 0, steps);
    plain.lossAndGrad(p, g0, x, 0, shifted, 0, steps);
    let worst = 0;
    for (let i = 0; i < g1.length; i++) worst = Math.max(worst, Math.abs(g1[i]! - g0[i]!));
    t.ok(worst < 1e-12, `gradient = the plain net's gradient on y - x (worst ${worst.toExponential(2)})`);
    t.end();
  });

  t.test(`a residual head's weights carry the skip and the reference adds it (${cell})`, (t) => {
    const shape: NetShape = { inputSize: 3, hiddenSize: 4, layers: 2, outputs: 2, logvar: false, cell, residual: [2, 0] };
    const layout = new ParamLayout(shape);
    const p = layout.init(8);
    const steps = 6;
    const x = Float64Array.from({ length: steps * 3 }, (_, i) => Math.sin(i * 0.7));
    const loss = makeNet(layout, steps).forward(p, x, 0, new Float64Array(steps * 2), 0, steps);
    const w = layout.toWeights(p);
    t.same(w.residual, [2, 0]);
    const { residual: _skip, ...plainShape } = shape;
    t.throws(() => new ParamLayout(plainShape).fromWeights(w), /residual head 2,0 do not fit a layout with residual head none/);
    const ref = referenceForward(w, Float32Array.from(x), new Float32Array(2 * 4), new Float32Array(2 * 4), steps, 1);
    let refLoss = 0;
    for (const v of ref.y) refLoss += v * v;
    t.ok(Math.abs(loss - refLoss) < 1e-4 * Math.max(1, refLoss), `loss ${loss} vs reference ${refLoss}`);
    t.end();
  });

  t.test(`the training forward pass agrees with the runtime reference (${cell})`, (t) => {
    const shape = { inputSize: 2, hiddenSize: 5, layers: 2, outputs: 2, logvar: false, cell };
    const layout = new ParamLayout(shape);
    const p = layout.init(3);
    const steps = 7;
    const x = Float64Array.from({ length: steps * 2 }, (_, i) => Math.sin(i * 0.7));
    const net = makeNet(layout, steps);
    // With targets at zero, the summed squared error is the sum of squared predictions.
    const loss = net.forward(p, x, 0, new Float64Array(steps * 2), 0, steps);
    const w = layout.toWeights(p);
    t.equal(w.cell === 'gru', cell === 'gru');
    // Run the reference on the float32-rounded weights the export would hold.
    const ref = referenceForward(w, Float32Array.from(x), new Float32Array(2 * 5), new Float32Array(2 * 5), steps, 1);
    let refLoss = 0;
    for (const v of ref.y) refLoss += v * v;
    t.ok(Math.abs(loss - refLoss) < 1e-4 * Math.max(1, refLoss), `loss ${loss} vs reference ${refLoss}`);
    t.end();
  });
}
