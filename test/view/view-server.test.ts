import t from 'tap';
import { once } from 'node:events';
import { createServer, get, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Result } from '../../runtime/engine/sample';
import { FleetView, ViewServer } from '../../runtime/view';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function result(device: string, ts: number, value: number): Result {
  return { device, ts, values: [value], expected: [value], error: [0], score: 0, likelihood: 0.5, anomaly: false, anomalous: [], episode: null, forecast: [value], warmup: false, model: 'm@1' };
}

t.test('with no page open the view does nothing but record: no timer, no summary; a page gets ticks until it closes', async (t) => {
  const view = new FleetView({ shape: () => ({ targets: ['value'], targetIndex: [0] }), info: () => ({ model: 'm@1', backend: 'wasm', devices: 2 }) }, { points: 10 });
  let summaries = 0;
  const summary = view.summary.bind(view);
  view.summary = (...a) => (summaries++, summary(...a));
  const vs = new ViewServer(view, 5);
  const http = createServer((req, res) => void (vs.handle(req, res) || res.writeHead(404).end()));
  http.listen(0, '127.0.0.1');
  await once(http, 'listening');
  const port = (http.address() as AddressInfo).port;
  t.teardown(() => {
    vs.close();
    http.close();
  });

  for (let k = 0; k < 20; k++) {
    view.record(result('a', k, k));
    view.record(result('b', k, -k));
    await sleep(3);
  }
  t.equal(summaries, 0, 'no page: no summary computed over 12 tick periods (60 ms)');

  const page = await new Promise<IncomingMessage>((resolve, reject) => get(`http://127.0.0.1:${port}/view/events`, resolve).on('error', reject));
  let bytes = 0;
  page.on('data', (b: Buffer) => (bytes += b.length));
  for (let i = 0; i < 400 && summaries < 3; i++) await sleep(5); // a loaded machine delays timers
  t.ok(summaries >= 3, `a page open: a summary per tick (${summaries})`);
  t.ok(bytes > 0, 'sent to the page');
  t.equal(vs.clients, 1);

  page.destroy();
  for (let i = 0; i < 100 && vs.clients > 0; i++) await sleep(5);
  t.equal(vs.clients, 0, 'the page closed');
  const after = summaries;
  await sleep(60);
  t.equal(summaries, after, 'and the ticks stopped with it');
});
