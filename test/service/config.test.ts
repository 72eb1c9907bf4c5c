import t from 'tap';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from '../../runtime/cli/args';
import { RUN_SPECS, redactConfig, resolveServiceConfig } from '../../runtime/service/config';
import { compileTopicTemplate } from '../../runtime/service/topic-template';
import { tempDir } from '../helpers/models';

const dir = tempDir('edgelstm-config-');
const resolve = (args: string[], env: NodeJS.ProcessEnv = {}) => resolveServiceConfig(parseArgs(args, RUN_SPECS).values, env);

t.test('bad options are refused with their name', async (t) => {
  t.throws(() => resolve(['--qos', '3']), /--qos/);
  t.throws(() => resolve(['--input', 'sensors/dev-{device}']), /--input/);
  t.throws(() => resolve(['--output', 'edgelstm/+/result']), /--output/);
  t.throws(() => resolve(['--broker', 'http://x']), /--broker/);
  let msg = '';
  try {
    resolve(['--broker', 'mqtt://u:secret@host']);
  } catch (e) {
    msg = (e as Error).message;
  }
  t.match(msg, /--broker: expected a URL without a password/);
  t.notMatch(msg, /secret/, 'the refused URL is shown without its password');
  t.throws(() => resolve(['--reconnect-min-ms', '500', '--reconnect-max-ms', '100']), /--reconnect-max-ms/);
  t.throws(() => resolve(['--cert', join(dir, 'missing.crt')]), /--cert/);
  t.throws(() => resolve(['--drop-policy', 'maybe']), /--drop-policy/);
  t.throws(() => resolve(['--state-file', join(dir, 's.bin'), '--dedupe=false']), /--dedupe: expected on with the journal/);
  t.equal(resolve(['--state-file', join(dir, 's.bin'), '--dedupe=false', '--journal=false']).journalFile, undefined);
  t.equal(resolve(['--state-file', join(dir, 's.bin')]).journalFile, join(dir, 's.bin.journal'), 'the journal sits beside the state file');
  t.equal(resolve([]).journalFile, undefined, 'no state file, no journal');
});

t.test('password from the environment or a file, redacted', async (t) => {
  t.equal(resolve([], { EDGELSTM_MQTT_PASSWORD: 'envpw' }).password, 'envpw');
  writeFileSync(join(dir, 'pw'), 'filepw\nignored\n');
  const c = resolve(['--password-file', join(dir, 'pw')], { EDGELSTM_MQTT_PASSWORD: 'envpw' });
  t.equal(c.password, 'filepw', 'the file wins, first line only');
  t.notMatch(JSON.stringify(redactConfig(c)), /filepw/);
});

t.test('topic templates', async (t) => {
  const tt = compileTopicTemplate('plant/{site}/{device}/{feature}');
  t.equal(tt.filter, 'plant/+/+/+');
  t.same(tt.match('plant/s1/p7/temp'), { site: 's1', device: 'p7', feature: 'temp' });
  t.equal(tt.match('plant/s1/p7'), undefined);
  t.equal(compileTopicTemplate('edgelstm/{device}/result').fill({ device: 'a/b#' }), 'edgelstm/a_b_/result', 'a payload device id cannot change the topic');
});

t.test('a bad config file stops `edgelstm run` before anything starts', async (t) => {
  const cfg = join(dir, 'bad.json');
  writeFileSync(cfg, JSON.stringify({ input: 'sensors/{device}/telemetry', qos: 5, 'embedded-port': 0 }));
  const r = spawnSync(process.execPath, ['dist/runtime/cli/main.js', 'run', '--config', cfg], { encoding: 'utf8', timeout: 30_000 });
  t.equal(r.status, 2, 'exit 2: configuration error');
  t.match(r.stderr, /bad\.json: option --qos: expected an integer >= 0 <= 2, found 5/);
  t.notMatch(r.stdout, /broker/, 'no broker was started');
  writeFileSync(cfg, JSON.stringify({ 'queue-sise': 10 }));
  const r2 = spawnSync(process.execPath, ['dist/runtime/cli/main.js', 'run', '--config', cfg], { encoding: 'utf8', timeout: 30_000 });
  t.equal(r2.status, 2);
  t.match(r2.stderr, /unknown option "queue-sise"/);
});
