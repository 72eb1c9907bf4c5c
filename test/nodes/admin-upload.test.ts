/**
 * The Node-RED admin node's model upload (POST /edgelstm/model) with bodies sent as something other than
 * application/octet-stream, as `curl --data-binary` (form-urlencoded by default) or a script setting
 * application/json would: Node-RED's own body parsers read those before the route runs. Issue 14 found the
 * JSON case hanging. Each must be answered at once with 415 and a JSON error naming the content type that was
 * sent and the one to use, leave the current model unchanged, and log no stack; the right type still works.
 * A real Node-RED process (the project's), with the admin node as built (dist/nodes/edgelstm-admin).
 */
import t from 'tap';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { modelSha256 } from '../../runtime/model/signature';
import { tempDir, writeTestModel } from '../helpers/models';
import { spawn } from 'node:child_process';
import { CHILD_ENV, freePort, NODE_RED_DIR, ROOT } from './node-red-process';

t.setTimeout(180_000);

t.test('uploads that are not application/octet-stream: refused at once with 415 and a clear error; octet-stream works', async (t) => {
  const dir = tempDir('edgelstm-admin-upload-');
  const model = readFileSync(writeTestModel(dir));
  const sha = modelSha256(model);
  const userDir = join(dir, 'nr');
  mkdirSync(userDir);
  writeFileSync(join(userDir, 'flows.json'), '[]');
  const nodesDir = join(ROOT, 'dist/nodes/edgelstm-admin');
  const settings = join(userDir, 'settings.js');
  writeFileSync(
    settings,
    `module.exports = {
  uiHost: '127.0.0.1', flowFile: 'flows.json', credentialSecret: false, nodesDir: ${JSON.stringify([nodesDir])},
  logging: { console: { level: 'info' } }, editorTheme: { tours: false }, diagnostics: { enabled: false }, telemetry: { enabled: false, updateNotification: false },
  edgelstm: { allowUnsignedModels: true },
};\n`,
  );
  const port = await freePort();
  const child = spawn(process.execPath, [join(NODE_RED_DIR, 'red.js'), '--userDir', userDir, '--port', String(port), '--settings', settings], { cwd: userDir, env: CHILD_ENV, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => void child.kill('SIGKILL'));
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const on = (b: Buffer): void => {
      out += b.toString();
      if (/Started flows/.test(out)) resolve();
    };
    child.stdout!.on('data', on);
    child.stderr!.on('data', on);
    child.once('exit', (code) => reject(new Error(`Node-RED exited (${code}):\n${out}`)));
  });
  const nr = { url: `http://127.0.0.1:${port}` };

  const post = async (contentType: string | undefined, body: Uint8Array | string): Promise<{ status: number; body: string }> => {
    const headers: Record<string, string> = { 'X-Edgelstm-Sha256': sha, 'X-Edgelstm-Version': 'test@1.0.0' };
    if (contentType !== undefined) headers['Content-Type'] = contentType;
    // A hang (the defect) ends here as an abort, failing the test rather than stalling it.
    const res = await fetch(`${nr.url}/edgelstm/model`, { method: 'POST', headers, body: typeof body === 'string' ? body : new Uint8Array(body), signal: AbortSignal.timeout(30_000) });
    return { status: res.status, body: await res.text() };
  };
  const current = async (): Promise<unknown> => ((await (await fetch(`${nr.url}/edgelstm/model`)).json()) as { sha256: unknown }).sha256;

  const cases: [string, string | undefined, Uint8Array | string][] = [
    ['application/json, the model bytes (not JSON)', 'application/json', model],
    ['application/json, a JSON object', 'application/json', JSON.stringify({ model: Buffer.from(model).toString('base64') })],
    ['application/json, a JSON string', 'application/json', JSON.stringify('abc')],
    ['application/json, an empty object', 'application/json', '{}'],
    ['application/json; charset=utf-8, over the admin API body limit (5 MB)', 'application/json; charset=utf-8', JSON.stringify({ pad: 'x'.repeat(6_000_000) })],
    ['application/x-www-form-urlencoded (curl --data-binary without -H)', 'application/x-www-form-urlencoded', model],
    ['text/plain', 'text/plain', model],
    ['multipart/form-data', 'multipart/form-data; boundary=xyz', `--xyz\r\nContent-Disposition: form-data; name="model"\r\n\r\n${Buffer.from(model).toString('latin1')}\r\n--xyz--\r\n`],
  ];
  for (const [what, type, body] of cases) {
    const r = await post(type, body);
    t.equal(r.status, 415, `${what}: 415 (${r.body.slice(0, 200)})`);
    let parsed: { error?: string } = {};
    try {
      parsed = JSON.parse(r.body) as { error?: string };
    } catch {
      t.fail(`${what}: the reply is JSON`);
    }
    t.match(parsed.error ?? '', /application\/octet-stream/, `${what}: says what to send`);
    t.match(parsed.error ?? '', new RegExp((type ?? '').split(';')[0]!.replace(/[/+.]/g, '\\$&')), `${what}: names what was sent`);
    t.notMatch(r.body, /\bat \S+ \(|node_modules/, `${what}: no stack trace`);
    t.equal(await current(), null, `${what}: the current model unchanged`);
  }
  const ok = await post('application/octet-stream', model);
  t.equal(ok.status, 200, `application/octet-stream: accepted (${ok.body})`);
  t.equal(await current(), sha, 'and current');
  const none = await post(undefined, model);
  t.equal(none.status, 200, `no Content-Type at all: read as the model bytes (${none.body})`);
  // A rollback (`edgelstm deploy`) posts an empty string, which fetch sends as text/plain: still a selection.
  await fetch(`${nr.url}/edgelstm/model`, { method: 'DELETE' });
  const rollback = await post('text/plain;charset=UTF-8', '');
  t.equal(rollback.status, 200, `an empty body of any type selects the stored model (${rollback.body})`);
  t.equal(await current(), sha, 'selected');
  t.notMatch(out, /\bat \S+ \(.*node_modules/, 'Node-RED logged no stack trace');
});
