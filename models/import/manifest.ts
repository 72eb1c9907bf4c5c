import { readFileSync } from 'node:fs';
import { EdgeLstmError, ModelError } from '../../runtime/errors';
import { METADATA_KEYS } from '../../runtime/model/metadata';

/**
 * Reads a sidecar manifest: a JSON object of `edgelstm.*` keys (the prefix may
 * be left out). Unknown keys are refused, because a misspelt key would
 * otherwise be dropped silently and the model loaded with the file's value.
 */
export function readManifest(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new EdgeLstmError('E_CONFIG', `${path}: cannot read manifest: ${(e as Error).message}`, { file: path, field: 'manifest' });
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new ModelError(`manifest is not valid JSON: ${(e as Error).message}`, { file: path });
  }
  return checkManifest(parsed, path);
}

/** Checks the shape of a manifest object; returns it with every key prefixed `edgelstm.`. */
export function checkManifest(parsed: unknown, path: string): Record<string, unknown> {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ModelError('manifest must be a JSON object', { file: path, expected: 'an object of edgelstm.* keys', found: Array.isArray(parsed) ? 'an array' : typeof parsed });
  }
  const known = new Set<string>(METADATA_KEYS);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(parsed)) {
    const bare = k.startsWith('edgelstm.') ? k.slice(9) : k;
    if (!known.has(bare)) {
      throw new ModelError('manifest has an unknown key', { file: path, field: k, expected: METADATA_KEYS.map((m) => `edgelstm.${m}`).join(', '), found: k });
    }
    out[`edgelstm.${bare}`] = v;
  }
  return out;
}
