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
  return {
    template,
    filter,
    placeholders,
    match(topic: string): Record<string, string> | undefined {
      const parts = topic.split('/');
      const out: Record<string, string> = {};
      for (let i = 0; i < kinds.length; i++) {
        const k = kinds[i]!;
        if (k === '#') return out;
        const p = parts[i];
        if (p === undefined) return undefined;
        if (k === '+') continue;
        if (typeof k === 'object') {
          if (p.length === 0) return undefined;
          out[k.name] = p;
        } else if (k !== p) return undefined;
      }
      return parts.length === kinds.length ? out : undefined;
    },
    fill(values: Readonly<Record<string, string>>): string {
      return kinds.map((k) => (typeof k === 'object' ? safeLevel(values[k.name]) : k)).join('/');
    },
  };
}

function bad(field: string, found: unknown, expected: string): EdgeLstmError {
  return new EdgeLstmError('E_CONFIG', `option --${field}: expected ${expected}, found ${JSON.stringify(found)}`, { field, expected, found: JSON.stringify(found) });
}

/** A device id from a payload may hold characters that would change the topic's meaning. */
function safeLevel(v: string | undefined): string {
  return v === undefined || v.length === 0 ? '_' : v.replace(/[/+#\u0000]/g, '_');
}
