import { EdgeLstmTarget, BrokerPool } from './edgelstm-target';
import type { Device } from './inventory';
import { NodeRedTarget } from './node-red-target';
import { mapLimit, type RolloutPlan } from './planner';
import { UnreachableError, type DeviceState, type DeviceTarget, type Release } from './target';

/**
 * - updated: now runs the release
 * - unchanged: already did (nothing sent)
 * - would-update: --dry-run, would have changed
 * - failed: refused, timed out or errored; put back to what it ran
 * - unreachable: could not be reached; nothing changed
 * - rolled-back: was updated as a canary, then put back because another canary failed
 * - skipped: not tried, because the canaries failed
 */
export type DeviceOutcome = 'updated' | 'unchanged' | 'would-update' | 'failed' | 'unreachable' | 'rolled-back' | 'skipped';

export interface DeviceResult {
  device: string;
  kind: Device['kind'];
  canary: boolean;
  outcome: DeviceOutcome;
  before?: DeviceState;
  after?: DeviceState;
  error?: string;
  /** Wall time spent on the device, ms. */
  ms: number;
}

export type RolloutEvent = { type: 'phase'; phase: 'canary' | 'rest' | 'rollback'; devices: number } | { type: 'device'; result: DeviceResult };

export interface RolloutOptions {
  plan: RolloutPlan;
  release: Release;
  /** Devices worked on at once. */
  concurrency: number;
  /** Per-device limit for each step (read, apply and wait for the device's report, restore), ms. */
  timeoutMs: number;
  /** MQTT connect limit, ms. */
  connectTimeoutMs: number;
  dryRun: boolean;
  onEvent?: (e: RolloutEvent) => void;
}

export const FAILED: ReadonlySet<DeviceOutcome> = new Set(['failed', 'unreachable', 'rolled-back', 'skipped']);

/** Rolls the release out: canaries, a stop and rollback if any fails, then the rest. */
export async function rollout(o: RolloutOptions): Promise<DeviceResult[]> {
  const pool = new BrokerPool(o.connectTimeoutMs);
  const targets = new Map<string, DeviceTarget>();
  const targetFor = (d: Device): DeviceTarget => {
    const t = d.kind === 'edgelstm' ? new EdgeLstmTarget(d, o.release, pool, o.timeoutMs) : new NodeRedTarget(d, o.release, o.timeoutMs);
    targets.set(d.name, t);
    return t;
  };
  const emit = (r: DeviceResult): DeviceResult => {
    o.onEvent?.({ type: 'device', result: r });
    return r;
  };

  async function one(d: Device, canary: boolean): Promise<DeviceResult> {
    const t0 = Date.now();
    const res: DeviceResult = { device: d.name, kind: d.kind, canary, outcome: 'failed', ms: 0 };
    const t = targetFor(d);
    try {
      res.before = await t.read();
    } catch (e) {
      res.outcome = e instanceof UnreachableError ? 'unreachable' : 'failed';
      res.error = (e as Error).message;
      res.ms = Date.now() - t0;
      return emit(res);
    }
    if (t.upToDate()) {
      res.outcome = 'unchanged';
      res.after = res.before;
    } else if (o.dryRun) {
      res.outcome = 'would-update';
    } else {
      try {
        res.after = await t.apply();
        res.outcome = 'updated';
      } catch (e) {
        res.outcome = 'failed';
        res.error = (e as Error).message;
        // A failed device goes back to what it ran, and its retained request with it, so the
        // next run (or a reboot) does not pick up the release behind the operator's back.
        try {
          res.after = await t.restore();
        } catch (r) {
          res.error += `; restore failed: ${(r as Error).message}`;
        }
      }
    }
    res.ms = Date.now() - t0;
    return emit(res);
  }

  try {
    const results: DeviceResult[] = [];
    if (o.plan.canary.length > 0) {
      o.onEvent?.({ type: 'phase', phase: 'canary', devices: o.plan.canary.length });
      const canary = await mapLimit(o.plan.canary, o.concurrency, (d) => one(d, true));
      results.push(...canary);
      if (canary.some((r) => FAILED.has(r.outcome))) {
        const toUndo = canary.filter((r) => r.outcome === 'updated');
        o.onEvent?.({ type: 'phase', phase: 'rollback', devices: toUndo.length });
        await mapLimit(toUndo, o.concurrency, async (r) => {
          const t0 = Date.now();
          try {
            r.after = await targets.get(r.device)!.restore();
            r.outcome = 'rolled-back';
          } catch (e) {
            r.outcome = 'failed';
            r.error = `updated, then rollback failed: ${(e as Error).message}`;
          }
          r.ms += Date.now() - t0;
          emit(r);
        });
        const why = canary.filter((r) => r.outcome === 'failed' || r.outcome === 'unreachable').map((r) => r.device);
        for (const d of o.plan.rest) results.push(emit({ device: d.name, kind: d.kind, canary: false, outcome: 'skipped', error: `canary ${why.join(', ')} failed`, ms: 0 }));
        return results;
      }
    }
    o.onEvent?.({ type: 'phase', phase: 'rest', devices: o.plan.rest.length });
    results.push(...(await mapLimit(o.plan.rest, o.concurrency, (d) => one(d, false))));
    return results;
  } finally {
    await Promise.all([...targets.values()].map((t) => t.close().catch(() => undefined)));
    await pool.close();
  }
}
