/**
 * Reads a numeric setting from a node's configuration. Flow configuration is
 * forgiving (as in Node-RED's core nodes): a value that is not a number in
 * range gets a warning naming the field and the default instead of stopping
 * the flow. Empty means the default, silently.
 */
export function numberSetting(
  warn: (msg: string) => void,
  field: string,
  raw: unknown,
  range: { min: number; max: number; integer?: boolean; default: number },
): number {
  if (raw === undefined || raw === null || raw === '') return range.default;
  const v = typeof raw === 'number' ? raw : Number(raw);
  const ok = Number.isFinite(v) && v >= range.min && v <= range.max && (!range.integer || Number.isInteger(v));
  if (ok) return v;
  warn(`${field}: expected ${range.integer ? 'an integer' : 'a number'} from ${range.min} to ${range.max}, found ${JSON.stringify(raw)}; using ${range.default}`);
  return range.default;
}

/** A setting from a fixed set; anything else warns and gets the default. */
export function choiceSetting<T extends string>(warn: (msg: string) => void, field: string, raw: unknown, choices: readonly T[], dflt: T): T {
  if (raw === undefined || raw === null || raw === '') return dflt;
  if (typeof raw === 'string' && (choices as readonly string[]).includes(raw)) return raw as T;
  warn(`${field}: expected one of ${choices.join(', ')}, found ${JSON.stringify(raw)}; using ${dflt}`);
  return dflt;
}
