import type { Device } from './inventory';

/** What is being rolled out. */
export interface Release {
  model?: {
    bytes: Uint8Array;
    /** Hex SHA-256 of the bytes. */
    sha256: string;
    /** `name@version`, for the table. */
    id: string;
    version: string;
    /** Where devices fetch it (the built-in server or --model-url). */
    url: string;
    /** Base64 ed25519 signature, when the model is signed. */
    signature?: string;
  };
  /** Node-RED flows (the array `GET /flows` returns); only for node-red devices. */
  flows?: unknown[];
  /** Unique per run; devices echo it so a retained answer from an older run is never taken for this one's. */
  deployId: string;
}

/** What a device runs, as read before and after. */
export interface DeviceState {
  /** SHA-256 of the model, or null when the device holds none. */
  sha256: string | null;
  /** `name@version` when the device says. */
  model?: string;
  /** Node-RED flows revision. */
  flowsRev?: string;
}

/** A device could not be reached at all (nothing was changed on it). */
export class UnreachableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnreachableError';
  }
}

/**
 * One device's driver. `read` records what the device runs (and what is
 * needed to put it back); `apply` changes it and waits for the device to
 * confirm; `restore` puts back what `read` recorded. Every method honours the
 * per-device timeout the driver was built with.
 */
export interface DeviceTarget {
  readonly device: Device;
  read(): Promise<DeviceState>;
  /** True when the device already runs the release (nothing to do). */
  upToDate(): boolean;
  apply(): Promise<DeviceState>;
  restore(): Promise<DeviceState>;
  close(): Promise<void>;
}

export function shortSha(sha: string | null | undefined): string {
  return sha ? sha.slice(0, 12) : '-';
}

export function describeState(s: DeviceState | undefined): string {
  if (!s) return '-';
  const parts = [s.model ? `${s.model} ${shortSha(s.sha256)}` : shortSha(s.sha256)];
  if (s.flowsRev !== undefined) parts.push(`flows ${s.flowsRev.slice(0, 8)}`);
  return parts.join(', ');
}

export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
