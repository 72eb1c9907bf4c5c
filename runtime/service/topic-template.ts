import { EdgeLstmError } from '../errors';

/** A compiled topic template such as `plant/{site}/{device}/{feature}`. */
export interface TopicTemplate {
  readonly template: string;
  /** The MQTT subscription filter: every placeholder becomes `+`. */
  readonly filter: string;
  readonly placeholders: readonly string[];
  /** The placeholder values of a topic, or undefined when it does not match. */
  match(topic: string): Record<string, string> | undefined;
  /** The template with placeholders filled (for publishing); missing ones stay as `_`. */
  fill(values: Readonly<Record<string, string>>): string;
  /** The same as `fill({ ...values, device })`, without building the object (the per-result path). */
  fillDevice(values: Readonly<Record<string, string>>, device: string): string;
}

const PLACEHOLDER = /^\{([A-Za-z_][A-Za-z0-9_]*)\}$/;

/**
 * Compiles a template. A level is either literal text, a whole-level
 * placeholder, or an MQTT wildcard (`+`, or `#` last); placeholders inside a
 * level (`dev-{device}`) are refused because `+` cannot express them.
 */
export function compileTopicTemplate(template: string, field = 'input'): TopicTemplate {
  if (typeof template !== 'string' || template.length === 0) throw bad(field, template, 'a non-empty topic template');
  const levels = template.split('/');
  const placeholders: string[] = [];
  const kinds: (string | { name: string } | '+' | '#')[] = [];
  levels.forEach((lv, i) => {
    const m = PLACEHOLDER.exec(lv);
    if (m) {
      if (placeholders.includes(m[1]!)) throw bad(field, template, `each placeholder once ({${m[1]}} repeats)`);
      placeholders.push(m[1]!);
      kinds.push({ name: m[1]! });
    } else if (lv === '#') {
      if (i !== levels.length - 1) throw bad(field, template, '# only as the last level');
      kinds.push('#');
    } else if (lv === '+') kinds.push('+');
    else if (/[{}+#]/.test(lv)) throw bad(field, template, 'placeholders as whole levels, e.g. sensors/{device}/telemetry');
    else kinds.push(lv);
  });
  const filter = kinds.map((k) => (typeof k === 'object' ? '+' : k)).join('/');
  const n = kinds.length;
  const fill = (values: Readonly<Record<string, string>>): string => kinds.map((k) => (typeof k === 'object' ? safeLevel(values[k.name]) : k)).join('/');
  // The common output shape, a template whose only placeholder is {device}: text before and after it.
  const deviceOnly = placeholders.length === 1 && placeholders[0] === 'device';
  const at = kinds.findIndex((k) => typeof k === 'object');
  const before = deviceOnly ? kinds.slice(0, at).map((k) => `${k as string}/`).join('') : '';
  const after = deviceOnly ? kinds.slice(at + 1).map((k) => `/${k as string}`).join('') : '';
  const byDevice = new Map<string, string>();
  return {
    template,
    filter,
    placeholders,
    // Walks the topic level by level with indexOf: no array of levels per message.
    match(topic: string): Record<string, string> | undefined {
      const out: Record<string, string> = {};
      let start = 0;
      for (let i = 0; i < n; i++) {
        const k = kinds[i]!;
        if (k === '#') return out;
        if (start > topic.length) return undefined; // fewer levels than the template
        let end = topic.indexOf('/', start);
        if (end < 0) end = topic.length;
        if (typeof k === 'object') {
          if (end === start) return undefined;
          out[k.name] = topic.slice(start, end);
        } else if (k !== '+' && (end - start !== k.length || !topic.startsWith(k, start))) return undefined;
        start = end + 1;
      }
      return start === topic.length + 1 ? out : undefined;
    },
    fill,
    fillDevice(values: Readonly<Record<string, string>>, device: string): string {
      if (!deviceOnly) return fill({ ...values, device });
      // Built once per device, not per result (and flattened once, by its first write).
      let topic = byDevice.get(device);
      if (topic === undefined) {
        if (byDevice.size >= DEVICE_TOPICS) byDevice.clear();
        topic = before + safeLevel(device) + after;
        byDevice.set(device, topic);
      }
      return topic;
    },
  };
}

/** Topics kept per template (deviceOnly), at most: a fleet past it starts the cache again. */
const DEVICE_TOPICS = 65_536;

function bad(field: string, found: unknown, expected: string): EdgeLstmError {
  return new EdgeLstmError('E_CONFIG', `option --${field}: expected ${expected}, found ${JSON.stringify(found)}`, { field, expected, found: JSON.stringify(found) });
}

/**
 * A device id from a payload may hold characters that would change the topic's meaning (`/`, `+`, `#`) or that
 * a broker refuses in a topic name (MQTT 5 section 1.5.4: U+0000, the control characters U+0001-001F and
 * U+007F-009F, non-characters such as U+FDD0-FDEF and U+xFFFE/xFFFF; lone surrogates are not UTF-8 at all).
 * Mosquitto disconnects a client that publishes them, so one reading would keep the service off the broker:
 * each such code point (or lone surrogate) becomes `_`. The result payload still carries the id as sent.
 */
export function safeLevel(v: string | undefined): string {
  if (v === undefined || v.length === 0) return '_';
  return UNSAFE.test(v) ? v.replace(UNSAFE_ALL, '_') : v;
}

const UNSAFE = /[\p{Cc}\p{Noncharacter_Code_Point}\p{Surrogate}/+#]/u;
const UNSAFE_ALL = /[\p{Cc}\p{Noncharacter_Code_Point}\p{Surrogate}/+#]/gu;
