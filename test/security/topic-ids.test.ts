import t from 'tap';
import { safeLevel, compileTopicTemplate } from '../../runtime/service/topic-template';
import { tempDir, writeTestModel } from '../helpers/models';
import { until } from '../service/helpers';
import { listener, metric, mosquitto, noMosquitto, service } from './harness';

// Defect 3 of issue 14: a device id from a payload with a control character made the service publish a topic
// Mosquitto refuses ("malformed packet"), disconnecting it on every reconnect; the held reading came back after restart.

t.setTimeout(100_000);
const dir = tempDir('edgelstm-sec-topic-');
const modelPath = writeTestModel(dir);

/** What MQTT 5 section 1.5.4 and 4.7.3 forbid (or Mosquitto refuses) in a topic level built from an id. */
function forbidden(cp: number): boolean {
  return cp <= 0x1f || (cp >= 0x7f && cp <= 0x9f) || (cp >= 0xfdd0 && cp <= 0xfdef) || (cp & 0xfffe) === 0xfffe || (cp >= 0xd800 && cp <= 0xdfff) || cp === 0x2f || cp === 0x2b || cp === 0x23;
}

t.test('every code point: forbidden ones become _, the others are kept as they are', async (t) => {
  const out = compileTopicTemplate('edgelstm/{device}/result', 'output');
  let replaced = 0;
  let kept = 0;
  for (let cp = 0; cp <= 0x10ffff; cp++) {
    // Lone surrogates as JS strings hold them; the others as whole code points.
    const ch = cp <= 0xffff ? String.fromCharCode(cp) : String.fromCodePoint(cp);
    const level = safeLevel(`d${ch}x`);
    const want = forbidden(cp) ? 'd_x' : `d${ch}x`;
    if (level !== want) {
      t.fail(`U+${cp.toString(16).padStart(4, '0')}: ${JSON.stringify(level)}, expected ${JSON.stringify(want)}`);
      return;
    }
    if (forbidden(cp)) replaced++;
    else kept++;
  }
  t.equal(replaced, 32 + 33 + 32 + 34 + 2048 + 3, 'C0, DEL and C1, U+FDD0-FDEF, 17 x U+xFFFE/xFFFF, surrogates, / + #');
  t.equal(kept, 0x110000 - replaced);
  t.equal(out.fillDevice({}, 'a\u0000b/c+#'), 'edgelstm/a_b_c__/result');
  t.equal(out.fillDevice({}, ''), 'edgelstm/_/result');
  t.equal(safeLevel('\ud83d\ude00'), '\ud83d\ude00', 'a paired surrogate (an emoji) is a character like another');
  t.equal(safeLevel('\ude00\ud83d'), '__', 'the same halves in the wrong order are two lone surrogates');
});

t.test('ids with every forbidden class through a real Mosquitto: one result each, never disconnected, /health stays up', { skip: noMosquitto }, async (t) => {
  const broker = await mosquitto(dir);
  t.teardown(() => broker.stop());
  const { svc } = await service(modelPath, broker.url, ['--input', 'json/+/in', '--qos', '1']);
  t.teardown(() => svc.stop());
  const { c, got } = await listener(broker.url, ['edgelstm/+/result']);
  t.teardown(() => c.endAsync());
  const ids = ['d\u0001x', 'd\u001fx', 'd\u007fx', 'd\u0085x', 'd\u009fx', 'd\ufdd0x', 'd\uffffx', 'd\ufffex', 'd\u{10ffff}x', 'd\ud800x', 'd\udfffx', 'd/x', 'd+x', 'd#x', 'd\u0000x'];
  let ts = Date.now() - 100_000;
  for (const id of ids) await c.publishAsync('json/a/in', JSON.stringify({ device: id, value: 1, ts: (ts += 10) }), { qos: 1 });
  await c.publishAsync('json/a/in', JSON.stringify({ device: 'plain', value: 1, ts: (ts += 10) }), { qos: 1 });
  await until(() => got.length >= ids.length + 1, 20_000, 'a result per reading');
  const byDevice = new Map(got.map(([topic, r]) => [r['device'] as string, topic]));
  for (const id of ids) t.equal(byDevice.get(id), 'edgelstm/d_x/result', `${JSON.stringify(id)}: on a valid topic, the id intact in the payload`);
  t.equal(byDevice.get('plain'), 'edgelstm/plain/result');
  t.equal(svc.health().connected, true, 'still connected');
  t.equal(await metric(svc, 'edgelstm_results_out_total'), ids.length + 1, 'every reading answered once');
  t.notMatch(broker.log(), /malformed|protocol error|bad utf-8/i, 'Mosquitto saw no malformed packet');
});
