import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadInventory, validateInventory } from '../../deploy/fleet/inventory';
import { mapLimit, planRollout } from '../../deploy/fleet/planner';
import { tempDir } from '../helpers/models';

const ok = {
  defaults: { token: 'tok' },
  devices: [
    { name: 'pi-01', kind: 'edgelstm', mqtt: 'mqtt://127.0.0.1:1883', group: 'canary' },
    { name: 'nr-01', kind: 'node-red', url: 'http://127.0.0.1:1880/', tokenEnv: 'NR_TOKEN', token: undefined },
  ],
};

t.test('a valid inventory: defaults applied, tokenEnv resolved, trailing slash dropped', async (t) => {
  const inv = validateInventory({ devices: [ok.devices[0], { name: 'nr-01', kind: 'node-red', url: 'http://127.0.0.1:1880/', tokenEnv: 'NR_TOKEN' }], defaults: { username: 'u' } }, 'fleet.json', { NR_TOKEN: 'secret' });
  t.equal(inv.devices[1]!.token, 'secret');
  t.equal(inv.devices[1]!.url, 'http://127.0.0.1:1880');
  t.equal(inv.devices[0]!.username, 'u');
  t.equal(inv.devices[0]!.group, 'canary');
});

t.test('errors name the file and the field', async (t) => {
  const cases: [unknown, RegExp][] = [
    [[], /fleet\.json: \(top level\)/],
    [{ devices: [] }, /fleet\.json: devices: is empty/],
    [{ devices: {} }, /fleet\.json: devices: expected an array/],
    [{ devices: [{ kind: 'edgelstm', mqtt: 'mqtt://h' }] }, /devices\[0\]\.name: missing/],
    [{ devices: [{ name: 'a/b', kind: 'edgelstm', mqtt: 'mqtt://h' }] }, /devices\[0\]\.name: .*topic level/],
    [{ devices: [{ name: 'a', kind: 'pi', mqtt: 'mqtt://h' }] }, /devices\[0\]\.kind: expected one of edgelstm, node-red/],
    [{ devices: [{ name: 'a', kind: 'edgelstm' }] }, /devices\[0\]\.mqtt: missing/],
    [{ devices: [{ name: 'a', kind: 'edgelstm', mqtt: 'http://h' }] }, /devices\[0\]\.mqtt: .*not an mqtt/],
    [{ devices: [{ name: 'a', kind: 'node-red', url: 'ftp://h' }] }, /devices\[0\]\.url: .*not an http/],
    [{ devices: [{ name: 'a', kind: 'node-red', url: 'http://h' }, { name: 'a', kind: 'node-red', url: 'http://h' }] }, /devices\[1\]\.name: "a" appears twice/],
    [{ devices: [{ name: 'a', kind: 'node-red', url: 'http://h', tokenEnv: 'NOPE_NOT_SET' }] }, /devices\[0\]\.tokenEnv: environment variable NOPE_NOT_SET is not set/],
    [{ devices: [{ name: 'a', kind: 'node-red', url: 'http://h', token: 'x', tokenEnv: 'X' }] }, /tokenEnv: give token or tokenEnv/],
    [{ devices: [{ name: 'a', kind: 'node-red', url: 'http://h', colour: 'red' }] }, /devices\[0\]\.colour: unknown key/],
    [{ devices: [{ name: 'a', kind: 'node-red', url: 'http://h', group: 3 }] }, /devices\[0\]\.group: expected a non-empty string/],
    [{ defaults: { name: 'x' }, devices: [{ name: 'a', kind: 'node-red', url: 'http://h' }] }, /defaults\.name/],
    [{ device: [] }, /fleet\.json: device: unknown key/],
  ];
  for (const [raw, re] of cases) t.throws(() => validateInventory(raw, 'fleet.json', {}), re, JSON.stringify(raw));
});

t.test('loadInventory: unreadable and non-JSON files are named', async (t) => {
  const dir = tempDir();
  t.throws(() => loadInventory(join(dir, 'none.json')), /cannot read inventory .*none\.json/);
  writeFileSync(join(dir, 'bad.json'), '{');
  t.throws(() => loadInventory(join(dir, 'bad.json')), /bad\.json: not JSON/);
  writeFileSync(join(dir, 'ok.json'), JSON.stringify({ devices: [ok.devices[0]] }));
  t.equal(loadInventory(join(dir, 'ok.json')).devices.length, 1);
});

const fleet = ['a', 'b', 'c', 'd'].map((name) => ({ name, kind: 'edgelstm' as const, mqtt: 'mqtt://h' }));

t.test('planner: first N, the canary group, --only', async (t) => {
  t.same(planRollout(fleet, 2).canary.map((d) => d.name), ['a', 'b']);
  t.same(planRollout(fleet, 2).rest.map((d) => d.name), ['c', 'd']);
  t.same(planRollout(fleet, undefined).canary, []);
  t.same(planRollout(fleet, 0).rest.length, 4);
  const grouped = fleet.map((d) => (d.name === 'c' ? { ...d, group: 'canary' } : d));
  t.same(planRollout(grouped, undefined).canary.map((d) => d.name), ['c']);
  t.same(planRollout(grouped, 3).canary.map((d) => d.name), ['c'], 'the group wins over the count');
  t.same(planRollout(grouped, undefined).rest.map((d) => d.name), ['a', 'b', 'd']);
  t.same(planRollout(fleet, 1, ['d', 'b']).canary.map((d) => d.name), ['b']);
  t.throws(() => planRollout(fleet, 1, ['zz']), /--only: no device named "zz"/);
  t.throws(() => planRollout(fleet, -1), RangeError);
});

t.test('mapLimit keeps order and the limit', async (t) => {
  let running = 0;
  let peak = 0;
  const out = await mapLimit([5, 1, 4, 2, 3], 2, async (x) => {
    running++;
    peak = Math.max(peak, running);
    await new Promise((r) => setTimeout(r, x * 3));
    running--;
    return x * 10;
  });
  t.same(out, [50, 10, 40, 20, 30]);
  t.equal(peak, 2);
  await t.rejects(mapLimit([1], 0, async (x) => x), RangeError);
});
