import type { OptionSpecs, OptionValues } from '../cli/args';
import { EdgeLstmError } from '../errors';
import type { HaDiscoveryConfig } from './discovery';

export const HA_SPECS = {
  'ha-discovery': { type: 'boolean', description: 'Home Assistant MQTT discovery: a binary_sensor (anomaly) and sensors (likelihood, score, forecast) per device, retained', default: false },
  'ha-prefix': { type: 'string', description: 'Home Assistant discovery prefix', default: 'homeassistant' },
  'ha-availability-topic': { type: 'string', description: 'retained online/offline of the service (offline is its MQTT will) (default: edgelstm/<name>/availability)', placeholder: 'TOPIC' },
} satisfies OptionSpecs;

/** The Home Assistant config, or undefined without --ha-discovery. */
export function resolveHaDiscovery(o: OptionValues<typeof HA_SPECS> & { name: string }, version: string): HaDiscoveryConfig | undefined {
  if (!o['ha-discovery']) return undefined;
  const prefix = o['ha-prefix'];
  if (prefix.length === 0 || /[+#\u0000]/.test(prefix) || prefix.endsWith('/')) throw bad('ha-prefix', 'a topic prefix without wildcards or a trailing /', prefix);
  const availabilityTopic = o['ha-availability-topic'] ?? `edgelstm/${o.name}/availability`;
  if (availabilityTopic.length === 0 || /[+#\u0000]/.test(availabilityTopic)) throw bad('ha-availability-topic', 'a topic without wildcards', availabilityTopic);
  return { prefix, name: o.name, availabilityTopic, version };
}

function bad(field: string, expected: string, found: string): EdgeLstmError {
  return new EdgeLstmError('E_CONFIG', `option --${field}: expected ${expected}, found ${found}`, { field, expected, found });
}
