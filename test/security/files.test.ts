import t from 'tap';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pino from 'pino';
import { EdgeLstmError } from '../../runtime/errors';
import { EngineHost } from '../../runtime/host/engine-host';
import { ErrorReporter, REPORT_TEXT_MAX } from '../../runtime/service/error-reporter';
import { flagRedelivered } from '../../runtime/service/ingest';
import { DROP_KEYS_MAX, IngestQueue, OTHER_DEVICES } from '../../runtime/service/ingest-queue';
import { Recovery } from '../../runtime/service/recovery';
import { tempDir, writeTestModel } from '../helpers/models';
import { client, collect, startService, until } from '../service/helpers';
import { metric } from './harness';

// Issue 14, defects 9 and 12: the bounds, file modes and damage reports that do not depend on the broker
// (Aedes in-process where a broker is needed).

t.setTimeout(100_000);
const dir = tempDir('edgelstm-sec-files-');
const modelPath = writeTestModel(dir);

interface Line {
  level: string;
  msg: string;
  fields: Record<string, unknown>;
}

async function open(stateDir: string, maxFileBytes?: number): Promise<{ host: EngineHost; recovery: Recovery; lines: Line[] }> {
  const lines: Line[] = [];
  const rec = (level: string) => (fields: object, msg: string): void => void lines.push({ level, msg, fields: fields as Record<string, unknown> });
  const host = await EngineHost.load(modelPath, { backend: 'reference', engineOptions: () => ({ maxDelayMs: 0 }), log: { info: () => undefined, warn: () => undefined } });
  const recovery = new Recovery(host, { stateFile: join(stateDir, 'state.bin'), journalFile: join(stateDir, 'state.bin.journal'), replayChunk: 8, log: { info: rec('info'), warn: rec('warn'), error: rec('error') }, unackedResults: async () => [], ...(maxFileBytes !== undefined ? { maxFileBytes } : {}) });
  await recovery.restore();
  return { host, recovery, lines };
}

t.test('the .ts.json sidecar (device ids) is 0600 like the snapshot', async (t) => {
  const d = tempDir();
  const svc = await startService(modelPath, ['--state-file', join(d, 'state.bin')]);
  const c = await client(svc.brokerUrl);
  const results = await collect(c, 'edgelstm/+/result');
  await c.publishAsync('sensors/secret-device/telemetry', JSON.stringify({ value: 1, ts: Date.now() }), { qos: 1 });
  await until(() => results.length === 1);
  await c.endAsync();
  await svc.stop();
  t.equal(statSync(join(d, 'state.bin')).mode & 0o777, 0o600, 'snapshot 0600');
  t.equal(statSync(join(d, 'state.bin.ts.json')).mode & 0o777, 0o600, 'sidecar 0600');
  t.equal(statSync(join(d, 'state.bin.journal')).mode & 0o777, 0o600, 'journal 0600');
});

t.test('a 2 GB state file and an over-limit journal are refused unread, kept aside, and said', async (t) => {
  const d = tempDir();
  writeFileSync(join(d, 'state.bin'), '');
  truncateSync(join(d, 'state.bin'), 2 ** 31); // sparse: 2 GB long, nothing on disk
  const rss = process.memoryUsage().rss;
  const { host, lines } = await open(d);
  t.ok(process.memoryUsage().rss - rss < 200e6, 'not read into memory');
  t.ok(lines.some((l) => l.level === 'error' && /state file refused unread: 2147483648 bytes/.test(l.msg)), 'said, with the size and the limit');
  t.ok(readdirSync(d).some((f) => f.startsWith('state.bin.refused-')), 'kept aside');
  t.equal(host.engine.devices, 0, 'started without it');
  await host.close();

  const e = tempDir();
  writeFileSync(join(e, 'state.bin.journal'), Buffer.alloc(4096));
  const second = await open(e, 1024);
  t.ok(second.lines.some((l) => l.level === 'error' && /journal refused unread: 4096 bytes is over the limit of 1024/.test(l.msg)));
  await second.host.close();
});

t.test('a bit flip mid-journal is reported as damage (which block, what follows), the file kept aside; a torn tail stays a warning', async (t) => {
  const d = tempDir();
  const first = await open(d);
  const j = first.recovery.journal!;
  for (let b = 0; b < 3; b++) {
    for (let i = 0; i < 50; i++) j.append(`dev-${i}`, 1_700_000_000_000 + b * 1000 + i, [i]);
    await j.sync(); // one block per sync
  }
  await j.close();
  await first.host.close();
  const path = join(d, 'state.bin.journal');
  const original = readFileSync(path);
  const flipped = Buffer.from(original);
  flipped[Math.floor(original.length / 2)]! ^= 0x10; // inside the middle block
  writeFileSync(path, flipped);
  const second = await open(d);
  const err = second.lines.find((l) => l.level === 'error' && l.msg.includes('journal DAMAGED'));
  t.ok(err, 'logged as damage, not as a torn tail');
  t.match(String(err?.fields['damage']), /block \d+ \(\d+ bytes at byte \d+\) does not match its checksum; \d+ bytes follow it/);
  t.equal(err?.fields['recordsUsed'], 50, 'the records before the damage are used');
  const aside = String(err?.fields['keptAs']);
  t.ok(existsSync(aside) && readFileSync(aside).equals(flipped), 'the damaged file kept aside as it was');
  await second.recovery.journal!.close();
  await second.host.close();

  // A block cut short at the end: the crash-mid-write case, a warning.
  const e = tempDir();
  const third = await open(e);
  third.recovery.journal!.append('a', 1, [1]);
  await third.recovery.journal!.sync();
  await third.recovery.journal!.close();
  await third.host.close();
  const p2 = join(e, 'state.bin.journal');
  writeFileSync(p2, readFileSync(p2).subarray(0, statSync(p2).size - 3));
  const fourth = await open(e);
  t.ok(fourth.lines.some((l) => l.level === 'warn' && l.msg.includes('torn tail')));
  t.notOk(fourth.lines.some((l) => l.msg.includes('DAMAGED')));
  await fourth.recovery.journal!.close();
  await fourth.host.close();
});

t.test('a journal whose snapshot is gone is discarded loudly and kept aside', async (t) => {
  const d = tempDir();
  const first = await open(d);
  for (let i = 0; i < 20; i++) first.recovery.journal!.append('x', 1_700_000_000_000 + i, [i]);
  await first.recovery.snapshot(); // the journal now extends this snapshot ...
  for (let i = 20; i < 40; i++) first.recovery.journal!.append('x', 1_700_000_000_000 + i, [i]);
  await first.recovery.journal!.close();
  await first.host.close();
  writeFileSync(join(d, 'state.bin'), 'not a snapshot'); // ... which is then lost
  const second = await open(d);
  const err = second.lines.find((l) => l.level === 'error' && l.msg.startsWith('journal discarded'));
  t.ok(err, 'said');
  t.equal(err?.fields['records'], 20);
  t.ok(existsSync(String(err?.fields['keptAs'])), 'kept aside');
  await second.recovery.journal!.close();
  await second.host.close();
});

t.test('error log: 9,900 distinct 60 KB device ids log a bounded number of bytes and keys; every one still counted and published', async (t) => {
  const out: string[] = [];
  const log = pino({ level: 'warn' }, { write: (s: string) => void out.push(s) });
  let published = 0;
  let longest = 0;
  const r = new ErrorReporter(log, 60_000, (rep) => {
    published++;
    longest = Math.max(longest, rep.device?.length ?? 0, rep.reason.length, rep.topic.length);
  });
  const now = Date.now();
  for (let i = 0; i < 9900; i++) r.report(new EdgeLstmError('E_BAD_DEVICE', 'sample has no usable device id'), `json/${i}/in`, `${i}-${'x'.repeat(60_000)}`, now);
  for (let i = 0; i < 20_000; i++) r.report(new EdgeLstmError('E_PAYLOAD', 'bad'), 't', `short-${i}`, now + 1);
  const bytes = out.reduce((a, s) => a + s.length, 0);
  t.equal(published, 29_900, 'every rejection published');
  t.ok(longest <= REPORT_TEXT_MAX, `reports carry at most ${REPORT_TEXT_MAX} characters per text (${longest})`);
  t.ok(bytes < 1.5 * (1 << 20), `log bytes bounded: ${bytes}`);
  t.ok(r.keys <= 10_000, `keys bounded: ${r.keys}`);
});

t.test('drop policy: per-device counts bounded, the total exact', async (t) => {
  const q = new IngestQueue(1);
  for (let i = 0; i < 3 * DROP_KEYS_MAX; i++) q.recordDrop(`d${i}`);
  q.recordDrop('d0');
  t.equal(q.dropsByDevice.size, DROP_KEYS_MAX + 1, 'the first devices one by one, the rest together');
  t.equal(q.dropsByDevice.get(OTHER_DEVICES), 2 * DROP_KEYS_MAX);
  t.equal(q.dropsByDevice.get('d0'), 2);
  t.equal([...q.dropsByDevice.values()].reduce((a, b) => a + b, 0), q.dropped);
});

t.test('redelivered results are flagged; edgelstm_queue_depth is not stale', async (t) => {
  t.equal(flagRedelivered('{"device":"a","ts":1}'), '{"device":"a","ts":1,"redelivered":true}');
  t.same(JSON.parse(flagRedelivered('{"device":"a","forecast":[1]}')), { device: 'a', forecast: [1], redelivered: true });
  const svc = await startService(modelPath, ['--max-delay-ms', '5']);
  t.teardown(() => svc.stop());
  const c = await client(svc.brokerUrl);
  t.teardown(() => c.endAsync());
  const results = await collect(c, 'edgelstm/+/result');
  await Promise.all(Array.from({ length: 200 }, (_, i) => c.publishAsync(`sensors/d${i % 10}/telemetry`, JSON.stringify({ value: i, ts: Date.now() - 10_000 + i }), { qos: 1 })));
  await until(() => results.length === 200);
  await until(() => svc.health().queue === 0);
  t.equal(await metric(svc, 'edgelstm_queue_depth'), 0, 'the gauge says what /health says');
});

t.test('/health names the model file running by its SHA-256 beside the name its metadata gives', async (t) => {
  const svc = await startService(modelPath);
  t.teardown(() => svc.stop());
  const want = createHash('sha256').update(readFileSync(modelPath)).digest('hex');
  const h = (await (await fetch(`http://127.0.0.1:${svc.metricsPort}/health`)).json()) as Record<string, unknown>;
  t.equal(h['modelSha256'], want);
  t.equal(h['model'], 'test@1.0.0');
});

t.test('a journal deleted while the service runs is said, once', async (t) => {
  const d = tempDir();
  const { host, recovery, lines } = await open(d);
  rmSync(join(d, 'state.bin.journal'));
  for (let i = 0; i < 3; i++) {
    recovery.journal!.append('a', 1_700_000_000_000 + i, [i]);
    await recovery.journal!.sync();
  }
  t.equal(lines.filter((l) => l.level === 'error' && l.msg.startsWith('journal file DELETED')).length, 1);
  await recovery.journal!.close();
  await host.close();
});
