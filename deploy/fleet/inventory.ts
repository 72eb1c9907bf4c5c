import { readFileSync } from 'node:fs';
import { EdgeLstmError } from '../../runtime/errors';

/** One device of the fleet, as `fleet.json` describes it (after defaults). */
export interface Device {
  name: string;
  kind: 'edgelstm' | 'node-red';
  /** Broker URL (kind edgelstm). */
  mqtt?: string;
  /** Admin API base URL (kind node-red). */
  url?: string;
  /** Bearer token for the Admin API, or MQTT password; resolved from tokenEnv when that is given. */
  token?: string;
  /** MQTT username (kind edgelstm). */
  username?: string;
  group?: string;
}

export interface Inventory {
  file: string;
  devices: Device[];
}

const KINDS = ['edgelstm', 'node-red'] as const;
const FIELDS = new Set(['name', 'kind', 'mqtt', 'url', 'token', 'tokenEnv', 'username', 'group']);

function bad(file: string, field: string, message: string): EdgeLstmError {
  return new EdgeLstmError('E_CONFIG', `${file}: ${field}: ${message}`, { file, field });
}

/**
 * Validates a parsed inventory. Every error names the file and the field
 * (`devices[2].mqtt`), so a typo in a 300-device file is found at once.
 */
export function validateInventory(raw: unknown, file: string, env: NodeJS.ProcessEnv = process.env): Inventory {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw bad(file, '(top level)', 'expected an object with "devices"');
  const top = raw as Record<string, unknown>;
  for (const k of Object.keys(top)) if (k !== 'defaults' && k !== 'devices') throw bad(file, k, 'unknown key (expected "defaults" and "devices")');
  const defaults = top['defaults'] ?? {};
  if (typeof defaults !== 'object' || defaults === null || Array.isArray(defaults)) throw bad(file, 'defaults', 'expected an object');
  for (const k of Object.keys(defaults)) if (!FIELDS.has(k) || k === 'name') throw bad(file, `defaults.${k}`, 'unknown or not defaultable key');
  const list = top['devices'];
  if (!Array.isArray(list)) throw bad(file, 'devices', 'expected an array');
  if (list.length === 0) throw bad(file, 'devices', 'is empty');
  const seen = new Set<string>();
  const devices = list.map((entry: unknown, i): Device => {
    const at = `devices[${i}]`;
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw bad(file, at, 'expected an object');
    const d: Record<string, unknown> = { ...(defaults as Record<string, unknown>), ...(entry as Record<string, unknown>) };
    for (const k of Object.keys(d)) if (!FIELDS.has(k)) throw bad(file, `${at}.${k}`, 'unknown key');
    for (const k of Object.keys(d)) if (typeof d[k] !== 'string' || (d[k] as string).length === 0) throw bad(file, `${at}.${k}`, `expected a non-empty string, found ${JSON.stringify(d[k])}`);
    const name = d['name'] as string | undefined;
    if (name === undefined) throw bad(file, `${at}.name`, 'missing');
    if (!/^[A-Za-z0-9._-]+$/.test(name)) throw bad(file, `${at}.name`, `"${name}" may hold only letters, digits, ".", "_" and "-" (it is an MQTT topic level)`);
    if (seen.has(name)) throw bad(file, `${at}.name`, `"${name}" appears twice`);
    seen.add(name);
    const kind = d['kind'] as string | undefined;
    if (!KINDS.includes(kind as Device['kind'])) throw bad(file, `${at}.kind`, `expected one of ${KINDS.join(', ')}, found ${JSON.stringify(kind)}`);
    const dev: Device = { name, kind: kind as Device['kind'] };
    if (dev.kind === 'edgelstm') {
      const u = d['mqtt'] as string | undefined;
      if (u === undefined) throw bad(file, `${at}.mqtt`, 'missing (a broker URL such as mqtt://host:1883)');
      if (!/^(mqtts?|wss?|tcp):\/\/[^/]+/.test(u)) throw bad(file, `${at}.mqtt`, `"${u}" is not an mqtt://, mqtts://, ws:// or wss:// URL`);
      dev.mqtt = u;
      if (d['username'] !== undefined) dev.username = d['username'] as string;
    } else {
      const u = d['url'] as string | undefined;
      if (u === undefined) throw bad(file, `${at}.url`, 'missing (the Node-RED admin URL such as http://host:1880)');
      if (!/^https?:\/\/[^/]+/.test(u)) throw bad(file, `${at}.url`, `"${u}" is not an http(s) URL`);
      dev.url = u.replace(/\/+$/, '');
    }
    if (d['token'] !== undefined && d['tokenEnv'] !== undefined) throw bad(file, `${at}.tokenEnv`, 'give token or tokenEnv, not both');
    if (d['tokenEnv'] !== undefined) {
      const v = env[d['tokenEnv'] as string];
      if (v === undefined || v === '') throw bad(file, `${at}.tokenEnv`, `environment variable ${d['tokenEnv'] as string} is not set`);
      dev.token = v;
    } else if (d['token'] !== undefined) dev.token = d['token'] as string;
    if (d['group'] !== undefined) dev.group = d['group'] as string;
    return dev;
  });
  return { file, devices };
}

export function loadInventory(file: string, env: NodeJS.ProcessEnv = process.env): Inventory {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new EdgeLstmError('E_CONFIG', `cannot read inventory ${file}: ${(e as Error).message}`, { file });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new EdgeLstmError('E_CONFIG', `${file}: not JSON (${(e as Error).message})`, { file });
  }
  return validateInventory(raw, file, env);
}
