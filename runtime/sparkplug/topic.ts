import { EdgeLstmError } from '../errors';

/** The Sparkplug B topic namespace (Sparkplug 3.0, section 4.1). */
export const SPARKPLUG_NAMESPACE = 'spBv1.0';

/** Topics of host applications' STATE messages (Sparkplug 3.0, section 4.2.3): `spBv1.0/STATE/<host id>`. */
export const STATE_PREFIX = `${SPARKPLUG_NAMESPACE}/STATE/`;

export type SparkplugMessageType = 'NBIRTH' | 'NDEATH' | 'DBIRTH' | 'DDEATH' | 'NDATA' | 'DDATA' | 'NCMD' | 'DCMD';

const TYPES: ReadonlySet<string> = new Set(['NBIRTH', 'NDEATH', 'DBIRTH', 'DDEATH', 'NDATA', 'DDATA', 'NCMD', 'DCMD']);
const DEVICE_TYPES: ReadonlySet<string> = new Set(['DBIRTH', 'DDEATH', 'DDATA', 'DCMD']);

/** `spBv1.0/{group_id}/{message_type}/{edge_node_id}[/{device_id}]`. */
export interface SparkplugTopic {
  group: string;
  type: SparkplugMessageType;
  edge: string;
  /** Set for the device message types (D*), absent for the node's own (N*). */
  device?: string;
}

/** Reads a Sparkplug B topic; throws E_TOPIC naming the level that is wrong. */
export function parseSparkplugTopic(topic: string): SparkplugTopic {
  const lv = topic.split('/');
  if (lv[0] !== SPARKPLUG_NAMESPACE) throw bad(topic, 'namespace', SPARKPLUG_NAMESPACE, lv[0] ?? '');
  const type = lv[2] ?? '';
  if (!TYPES.has(type)) throw bad(topic, 'message_type', [...TYPES].join(', '), type);
  const device = DEVICE_TYPES.has(type);
  if (lv.length !== (device ? 5 : 4)) throw bad(topic, 'topic', `${device ? 5 : 4} levels for ${type}`, `${lv.length}`);
  if (lv.some((l) => l.length === 0)) throw bad(topic, 'topic', 'no empty level', topic);
  const t: SparkplugTopic = { group: lv[1]!, type: type as SparkplugMessageType, edge: lv[3]! };
  if (device) t.device = lv[4]!;
  return t;
}

/** The topic of a message; ids must already be valid topic levels (see sparkplugId). */
export function sparkplugTopic(group: string, type: SparkplugMessageType, edge: string, device?: string): string {
  return `${SPARKPLUG_NAMESPACE}/${group}/${type}/${edge}${device !== undefined ? `/${device}` : ''}`;
}

/**
 * A Sparkplug id from any text: the spec forbids `/`, `+` and `#` in group, edge node and device ids
 * (section 4.1.1); each of those, and each control character, becomes `_`.
 */
export function sparkplugId(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.length === 0 ? '_' : s.replace(/[/+#\u0000-\u001f\u007f]/g, '_');
}

function bad(topic: string, field: string, expected: string, found: string): EdgeLstmError {
  return new EdgeLstmError('E_TOPIC', `not a Sparkplug B topic: ${topic}`, { field, expected, found });
}
