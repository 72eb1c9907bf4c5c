import { EdgeLstmError } from '../../runtime/errors';
import type { Device } from './inventory';

/** The order of a roll-out: canaries first (all must pass), then the rest. */
export interface RolloutPlan {
  canary: Device[];
  rest: Device[];
}

/**
 * Devices in group "canary" are the canaries; without any, the first
 * `canaryCount` devices in inventory order (deterministic, so an operator
 * knows which boards go first). `canaryCount` 0 and no group: no canary phase.
 */
export function planRollout(devices: readonly Device[], canaryCount: number | undefined, only?: readonly string[]): RolloutPlan {
  let list = [...devices];
  if (only && only.length > 0) {
    const known = new Set(list.map((d) => d.name));
    for (const n of only) if (!known.has(n)) throw new EdgeLstmError('E_CONFIG', `option --only: no device named "${n}" in the inventory`, { field: 'only', found: n });
    list = list.filter((d) => only.includes(d.name));
  }
  if (canaryCount !== undefined && (!Number.isInteger(canaryCount) || canaryCount < 0)) throw new RangeError(`canaryCount: expected an integer >= 0, found ${canaryCount}`);
  const grouped = list.filter((d) => d.group === 'canary');
  const canary = canaryCount !== undefined ? (grouped.length > 0 ? grouped.slice(0, Math.max(canaryCount, 1)) : list.slice(0, canaryCount)) : grouped;
  const names = new Set(canary.map((d) => d.name));
  return { canary, rest: list.filter((d) => !names.has(d.name)) };
}

/** Runs `job` over `items` with at most `concurrency` at a time; results in item order. */
export async function mapLimit<T, R>(items: readonly T[], concurrency: number, job: (item: T, index: number) => Promise<R>): Promise<R[]> {
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency: expected an integer >= 1, found ${concurrency}`);
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await job(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return out;
}
