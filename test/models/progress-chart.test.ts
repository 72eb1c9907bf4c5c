import t from 'tap';
import { lossChartHtml } from '../../models/toolchain/loss-chart';
import { ProgressBar, formatDuration } from '../../models/toolchain/progress-bar';
import type { EpochReport } from '../../models/toolchain/train';

const report = (epoch: number, trainLoss: number, valLoss: number | null, best = false): EpochReport => ({ epoch, epochs: 3, trainLoss, valLoss, valMse: valLoss, seconds: 1.5, best });

t.test('on a terminal: a bar redrawn in place with loss and ETA, then an epoch line', (t) => {
  let out = '';
  const bar = new ProgressBar({ isTTY: true, columns: 100, write: (s: string) => (out += s) }, 3);
  bar.onBatch(1, 10, 10, 0.5);
  t.match(out, /^\r\x1b\[2Kepoch 1\/3 \[#+\] 100% loss 0\.5000 ETA \d+s/);
  bar.onEpoch(report(1, 0.5, 0.6, true));
  t.match(out, /\r\x1b\[2Kepoch 1\/3 loss 0\.5000 val 0\.6000 1\.5s \*\n$/);
  t.end();
});

t.test('off a terminal: only the epoch lines, no control characters', (t) => {
  let out = '';
  const bar = new ProgressBar({ write: (s: string) => (out += s) }, 3);
  for (let b = 1; b <= 20; b++) bar.onBatch(1, b, 20, 1 / b);
  bar.onEpoch(report(1, 0.25, null));
  t.equal(out, 'epoch 1/3 loss 0.2500 1.5s\n');
  t.end();
});

t.test('durations', (t) => {
  t.equal(formatDuration(42), '42s');
  t.equal(formatDuration(185), '3m05s');
  t.equal(formatDuration(3720), '1h02m');
  t.equal(formatDuration(NaN), '?');
  t.end();
});

t.test('the loss chart is one self-contained page with both curves and the best epoch', (t) => {
  const html = lossChartHtml('m <1.0>', [report(1, 1, 1.2), report(2, 0.5, 0.7, true), report(3, 0.3, 0.8)], 2, 'mean squared error');
  t.match(html, /^<!doctype html>/);
  t.match(html, /m &lt;1\.0&gt;/, 'title escaped');
  t.match(html, /<path id="train" d="M[\d.]+,[\d.]+ L[\d.]+,[\d.]+ L[\d.]+,[\d.]+"/);
  t.match(html, /<path id="val" d="M/);
  t.match(html, /best: epoch 2/);
  t.match(html, /log scale/);
  t.notMatch(html, /<script|https?:\/\/(?!www\.w3\.org)/, 'no scripts or external resources');
  const noVal = lossChartHtml('m', [report(1, 0, null)], 1, 'mse');
  t.notMatch(noVal, /id="val"/);
  t.notMatch(noVal, /log scale/, 'linear when a loss is zero');
  t.end();
});
