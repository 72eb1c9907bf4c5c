import { EdgeLstmError } from '../errors';

/**
 * `feature=metric` pairs, comma-separated (`temp=Sensors/Temperature,pressure=P1`), as a
 * metric name -> feature name map (what SparkplugHost takes). `field` names the setting in errors,
 * `label` is how the message names it (default: the field).
 */
export function parseSparkplugMetricMap(text: string | undefined, field: string, label = field): Map<string, string> {
  const map = new Map<string, string>();
  for (const pair of (text ?? '').split(',').filter((p) => p.trim().length > 0)) {
    const at = pair.indexOf('=');
    if (at <= 0 || at === pair.length - 1) {
      throw new EdgeLstmError('E_CONFIG', `${label}: expected feature=metric pairs separated by commas, found ${pair}`, { field, expected: 'feature=metric pairs separated by commas', found: pair });
    }
    map.set(pair.slice(at + 1).trim(), pair.slice(0, at).trim());
  }
  return map;
}
