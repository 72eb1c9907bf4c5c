import t from 'tap';
import { existsSync } from 'node:fs';
import mqtt from 'mqtt';
import { haId } from '../../runtime/homeassistant/discovery';
import { tempDir, writeTestModel } from '../helpers/models';
import { freePort, MOSQUITTO, startMosquitto, startService, until } from '../service/helpers';

// Home Assistant MQTT discovery through a real Mosquitto: every config checked against the documented schema.
t.setTimeout(90_000);
const dir = tempDir('edgelstm-ha-');
const modelPath = writeTestModel(dir, { features: ['temp', 'pressure'] });
const skip = existsSync(MOSQUITTO) ? false : 'mosquitto not installed';

/**
 * The keys Home Assistant's MQTT discovery documents, per platform (home-assistant.io/integrations/binary_sensor.mqtt/ and
 * /integrations/sensor.mqtt/, "Configuration variables"; the shared device, availability and origin blocks from
 * /integrations/mqtt/ "Discovery messages"). Long forms only: edgelstm does not use the abbreviations.
 */
const COMMON = ['availability', 'availability_mode', 'availability_template', 'availability_topic', 'default_entity_id', 'device', 'device_class', 'enabled_by_default', 'encoding', 'entity_category', 'entity_picture', 'expire_after', 'force_update', 'icon', 'json_attributes_template', 'json_attributes_topic', 'name', 'object_id', 'origin', 'payload_available', 'payload_not_available', 'platform', 'qos', 'state_topic', 'unique_id', 'value_template'];
const SCHEMA = {
  binary_sensor: { required: ['state_topic'], allowed: [...COMMON, 'off_delay', 'payload_off', 'payload_on'], deviceClasses: ['battery', 'battery_charging', 'carbon_monoxide', 'cold', 'connectivity', 'door', 'garage_door', 'gas', 'heat', 'light', 'lock', 'moisture', 'motion', 'moving', 'occupancy', 'opening', 'plug', 'power', 'presence', 'problem', 'running', 'safety', 'smoke', 'sound', 'tamper', 'update', 'vibration', 'window'] },
  sensor: { required: ['state_topic'], allowed: [...COMMON, 'last_reset_value_template', 'options', 'suggested_display_precision', 'state_class', 'unit_of_measurement'], deviceClasses: [] as string[] },
} as const;
const DEVICE_KEYS = ['configuration_url', 'connections', 'hw_version', 'identifiers', 'manufacturer', 'model', 'model_id', 'name', 'serial_number', 'suggested_area', 'sw_version', 'via_device'];
const AVAILABILITY_KEYS = ['topic', 'payload_available', 'payload_not_available', 'value_template'];
const ORIGIN_KEYS = ['name', 'sw_version', 'support_url'];
const STATE_CLASSES = ['measurement', 'measurement_angle', 'total', 'total_increasing'];
// `<discovery_prefix>/<component>/[<node_id>/]<object_id>/config`, ids in [a-zA-Z0-9_-].
const TOPIC = /^homeassistant\/(binary_sensor|sensor)\/([a-zA-Z0-9_-]+)\/([a-zA-Z0-9_-]+)\/config$/;

/** Every way a config breaks the schema (empty: it is valid). */
function schemaErrors(topic: string, c: Record<string, unknown>): string[] {
  const e: string[] = [];
  const m = TOPIC.exec(topic);
  if (!m) return [`topic ${topic} is not <prefix>/<component>/<node_id>/<object_id>/config`];
  const s = SCHEMA[m[1] as keyof typeof SCHEMA];
  for (const k of Object.keys(c)) if (!(s.allowed as readonly string[]).includes(k)) e.push(`${topic}: key ${k} not in the ${m[1]} schema`);
  for (const k of s.required) if (typeof c[k] !== 'string' || (c[k] as string).length === 0) e.push(`${topic}: required ${k} missing`);
  if (typeof c['unique_id'] !== 'string') e.push(`${topic}: unique_id (needed for the device registry) missing`);
  if (typeof c['state_topic'] === 'string' && /[+#]/.test(c['state_topic'])) e.push(`${topic}: state_topic has a wildcard`);
  if (c['device_class'] !== undefined && s.deviceClasses.length > 0 && !(s.deviceClasses as readonly string[]).includes(c['device_class'] as string)) e.push(`${topic}: device_class ${String(c['device_class'])}`);
  if (c['state_class'] !== undefined && !STATE_CLASSES.includes(c['state_class'] as string)) e.push(`${topic}: state_class ${String(c['state_class'])}`);
  const d = c['device'] as Record<string, unknown> | undefined;
  if (!d) e.push(`${topic}: device missing`);
  else {
    for (const k of Object.keys(d)) if (!DEVICE_KEYS.includes(k)) e.push(`${topic}: device.${k} not in the schema`);
    if (!Array.isArray(d['identifiers']) || d['identifiers'].length === 0) e.push(`${topic}: device.identifiers missing`);
    for (const k of ['name', 'model', 'manufacturer', 'sw_version']) if (typeof d[k] !== 'string') e.push(`${topic}: device.${k} is not a string`);
  }
  const a = c['availability'];
  if (!Array.isArray(a) || a.length === 0) e.push(`${topic}: availability missing`);
  else for (const x of a as Record<string, unknown>[]) {
    for (const k of Object.keys(x)) if (!AVAILABILITY_KEYS.includes(k)) e.push(`${topic}: availability.${k} not in the schema`);
    if (typeof x['topic'] !== 'string') e.push(`${topic}: availability.topic missing`);
  }
  const o = c['origin'] as Record<string, unknown> | undefined;
  if (o !== undefined) {
    for (const k of Object.keys(o)) if (!ORIGIN_KEYS.includes(k)) e.push(`${topic}: origin.${k} not in the schema`);
    if (typeof o['name'] !== 'string') e.push(`${topic}: origin.name (required) missing`);
  }
  if (m[1] === 'binary_sensor' && (typeof c['payload_on'] !== 'string' || typeof c['payload_off'] !== 'string')) e.push(`${topic}: payload_on/payload_off`);
  return e;
}

t.test('the schema check fails on what Home Assistant would refuse', async (t) => {
  const good = { state_topic: 'a/b', unique_id: 'u', device: { identifiers: ['x'], name: 'n', model: 'm', manufacturer: 'e', sw_version: '1' }, availability: [{ topic: 'a' }], payload_on: 'ON', payload_off: 'OFF' };
  t.same(schemaErrors('homeassistant/binary_sensor/n/o/config', good), []);
  t.ok(schemaErrors('homeassistant/binary_sensor/n/o.x/config', good).length > 0, 'object id alphabet');
  t.ok(schemaErrors('homeassistant/binary_sensor/n/o/config', { ...good, colour: 'red' }).length > 0, 'unknown key');
  t.ok(schemaErrors('homeassistant/sensor/n/o/config', { ...good, payload_on: undefined, state_class: 'average' }).length > 0, 'bad state_class');
  t.ok(schemaErrors('homeassistant/sensor/n/o/config', { ...good, device: { identifiers: [] } }).length > 0, 'device without identifiers');
  t.equal(haId('pump-7_a'), 'pump-7_a');
  t.match(haId('pump 7/a'), /^pump_7_a_[0-9a-f]{6}$/);
  t.not(haId('a/b'), haId('a_b'), 'ids that clean to the same text stay apart');
});

t.test('--ha-discovery: retained configs per device, valid against the schema, pointing at the result topic; evicted devices cleared; availability', { skip }, async (t) => {
  const port = await freePort();
  const broker = await startMosquitto(dir, port, ['allow_anonymous true']);
  t.teardown(() => broker.kill('SIGKILL'));
  const url = `mqtt://127.0.0.1:${port}`;
  const svc = await startService(modelPath, ['--broker', url, '--client-id', 'ha-svc', '--name', 'gw.1', '--ha-discovery', '--max-devices', '2']);
  let stopped = false;
  t.teardown(() => (stopped ? undefined : svc.stop()));
  const c = await mqtt.connectAsync(url, { clientId: 'ha-observer' });
  t.teardown(() => c.endAsync());
  const configs = new Map<string, string>(); // topic -> last payload
  const resultTopics = new Set<string>();
  const availability: string[] = [];
  c.on('message', (topic, payload) => {
    if (topic.startsWith('homeassistant/')) configs.set(topic, payload.toString());
    else if (topic.endsWith('/availability')) availability.push(payload.toString());
    else resultTopics.add(topic);
  });
  await c.subscribeAsync({ 'homeassistant/#': { qos: 1 }, 'edgelstm/+/availability': { qos: 1 }, 'edgelstm/+/result': { qos: 1 } });
  const read = (device: string, i: number): Promise<unknown> => c.publishAsync(`sensors/${device}/telemetry`, JSON.stringify({ ts: 1000 + i, temp: 20 + i, pressure: 1 }), { qos: 1 });
  for (let i = 0; i < 3; i++) {
    await read('pump-1', i);
    await read('pump 2', i);
  }
  // 2 devices x (anomaly, likelihood, score, forecast temp, forecast pressure)
  await until(() => configs.size >= 10 && availability.includes('online'), 10_000, 'configs of two devices');
  t.same(availability, ['online'], 'retained online at connect');
  for (const [topic, payload] of configs) {
    const cfg = JSON.parse(payload) as Record<string, unknown>;
    t.same(schemaErrors(topic, cfg), [], `${topic} follows the schema`);
    t.ok(resultTopics.has(cfg['state_topic'] as string), `${topic}: state_topic is where results go (${String(cfg['state_topic'])})`);
    t.same(cfg['availability'], [{ topic: 'edgelstm/gw.1/availability', payload_available: 'online', payload_not_available: 'offline' }]);
  }
  const byObject = (id: string): Record<string, unknown> => {
    const e = [...configs].find(([topic]) => topic.split('/')[3] === id);
    return JSON.parse(e?.[1] ?? '{}') as Record<string, unknown>;
  };
  const anomaly = byObject('pump-1_anomaly');
  t.equal(anomaly['device_class'], 'problem');
  t.equal(anomaly['value_template'], "{{ 'ON' if value_json.anomaly else 'OFF' }}");
  t.same((anomaly['device'] as Record<string, unknown>)['identifiers'], [`edgelstm_${haId('gw.1')}_pump-1`]);
  t.equal(byObject('pump-1_forecast_pressure')['value_template'], '{{ value_json.forecast[1] }}');
  const sanitized = haId('pump 2_anomaly');
  t.match(sanitized, /^pump_2_anomaly_[0-9a-f]{6}$/);
  t.equal((byObject(sanitized)['device'] as Record<string, unknown>)['name'], 'pump 2', 'the device keeps its own name');
  t.ok([...configs.keys()].every((k) => k.split('/')[2] === haId('gw.1')), 'node_id is the service name, sanitized');
  const ids = [...configs.values()].map((p) => (JSON.parse(p) as { unique_id: string }).unique_id);
  t.equal(new Set(ids).size, ids.length, 'unique_id unique');

  // A third device evicts the least recently used (pump-1, --max-devices 2): its entities are removed.
  const pump1 = [...configs.keys()].filter((k) => k.includes('/pump-1_'));
  t.equal(pump1.length, 5);
  await read('pump-3', 0);
  await until(() => pump1.every((k) => configs.get(k) === ''), 10_000, 'pump-1 configs cleared');
  // What a Home Assistant that starts now would see: retained configs of pump 2 and pump-3 only.
  const late = await mqtt.connectAsync(url, { clientId: 'ha-late' });
  t.teardown(() => late.endAsync());
  const retained = new Map<string, string>();
  late.on('message', (topic, payload, packet) => {
    if (packet.retain) retained.set(topic, payload.toString());
  });
  await late.subscribeAsync('homeassistant/#', { qos: 1 });
  await until(() => retained.size >= 10, 10_000, 'retained configs');
  await new Promise((r) => setTimeout(r, 300));
  t.equal(retained.size, 10, 'pump-1 is gone from the retained configs');
  t.ok([...retained.keys()].every((k) => !k.includes('/pump-1_')));
  t.ok([...retained.keys()].some((k) => k.includes('/pump-3_')));

  // A device that comes back is announced again.
  await read('pump-1', 10);
  await until(() => pump1.every((k) => (configs.get(k) ?? '').length > 0), 10_000, 'pump-1 announced again');

  await svc.stop();
  stopped = true;
  await until(() => availability.at(-1) === 'offline', 10_000, 'offline at stop');
  t.pass('offline, retained, at stop');
});
