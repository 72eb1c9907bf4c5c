import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { OptionSpecs, OptionValues } from '../cli/args';
import { EdgeLstmError } from '../errors';
import { HA_SPECS, resolveHaDiscovery } from '../homeassistant/options';
import type { HaDiscoveryConfig } from '../homeassistant/discovery';
import { packageRoot } from '../model/default-model';
import type { SparkplugConfig } from './link';
import { parseSparkplugMetricMap } from './metric-map';

/** The payload and result-format options of `edgelstm run`, with the Sparkplug B and Home Assistant ones. */
export const INTEGRATION_SPECS = {
  payload: { type: 'string', description: 'input payloads: json (a number, JSON, SenML on --input) or sparkplug (Sparkplug B on spBv1.0/+/+/+/#; --input is not used)', default: 'json', choices: ['json', 'sparkplug'] },
  'result-format': { type: 'string', description: 'results: json on --output, or sparkplug (DDATA of edgelstm\'s own edge node, --sparkplug-group/--sparkplug-node)', default: 'json', choices: ['json', 'sparkplug'] },
  'sparkplug-group': { type: 'string', description: 'Sparkplug group id of edgelstm\'s edge node (results as sparkplug)', default: 'edgelstm' },
  'sparkplug-node': { type: 'string', description: 'Sparkplug edge node id of edgelstm (default: --name)', placeholder: 'ID' },
  'sparkplug-metrics': { type: 'string', description: 'feature=metric pairs, comma-separated, for metrics not named as the model\'s features (e.g. temp=Sensors/Temperature)', placeholder: 'MAP' },
  'sparkplug-state': { type: 'boolean', description: 'with --payload sparkplug: publish STATE as a Sparkplug 3.0 primary host application (spBv1.0/STATE/<host id>, retained, with its own MQTT will)', default: true },
  'sparkplug-host-id': { type: 'string', description: 'Sparkplug host id of the STATE (default: --name)', placeholder: 'ID' },
  'sparkplug-rebirth-interval-s': { type: 'number', min: 0, max: 86400, description: 'least time between two rebirth requests (NCMD Node Control/Rebirth) to one edge node', default: 5 },
  ...HA_SPECS,
} satisfies OptionSpecs;

type IntegrationOptions = OptionValues<typeof INTEGRATION_SPECS> & { input: string; name: string };

/** What the integration options add to the service's config. */
export interface IntegrationConfig {
  payload: 'json' | 'sparkplug';
  /** Set when Sparkplug payloads are read or results written as Sparkplug. */
  sparkplug: SparkplugConfig | undefined;
  /** Set with --ha-discovery. */
  haDiscovery: HaDiscoveryConfig | undefined;
}

/** Validates the integration options; `defaultInput`: --input's default (sparkplug refuses any other). */
export function resolveIntegrations(o: IntegrationOptions, defaultInput: string): IntegrationConfig {
  const payload = o.payload as 'json' | 'sparkplug';
  const results = o['result-format'] === 'sparkplug';
  if (payload === 'sparkplug' && o.input !== defaultInput) throw config('input', 'no --input with --payload sparkplug (it reads spBv1.0/+/+/+/#)', o.input);
  const node = o['sparkplug-node'] ?? o.name;
  const hostId = o['sparkplug-host-id'] ?? o.name;
  for (const [k, v] of [['sparkplug-group', o['sparkplug-group']], ['sparkplug-node', node], ['sparkplug-host-id', hostId]] as const) {
    if (v.length === 0 || /[/+#\u0000-\u001f]/.test(v)) throw config(k, 'a Sparkplug id without /, + or #', v);
  }
  const metricMap = parseSparkplugMetricMap(o['sparkplug-metrics'], 'sparkplug-metrics', 'option --sparkplug-metrics');
  const sparkplug = payload === 'sparkplug' || results ? { results, group: o['sparkplug-group'], node, metricMap, rebirthIntervalMs: o['sparkplug-rebirth-interval-s'] * 1000, hostId: payload === 'sparkplug' && o['sparkplug-state'] ? hostId : undefined } : undefined;
  const haDiscovery = resolveHaDiscovery(o, version());
  // One MQTT will per connection: the NDEATH of the edge node, or Home Assistant's offline.
  if (haDiscovery !== undefined && results) throw config('ha-discovery', 'results as json (Home Assistant reads the JSON result topic)', '--result-format sparkplug');
  return { payload, sparkplug, haDiscovery };
}

function version(): string {
  try {
    return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

function config(field: string, expected: string, found: string): EdgeLstmError {
  return new EdgeLstmError('E_CONFIG', `option --${field}: expected ${expected}, found ${found}`, { field, expected, found });
}
