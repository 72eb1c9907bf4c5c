import { SampleError } from '../errors';

/** One reading of one device. */
export interface Sample {
  /** Device id: a non-empty string of at most 256 characters. */
  device: string;
  /** Epoch milliseconds. Default: the time of `push`. */
  ts?: number;
  /** One value per model feature, in `features` order. */
  values: ArrayLike<number>;
}

/**
 * The result of one scored sample: the same shape in the library, the CLI's
 * JSON lines, the MQTT payload and Node-RED's msg.payload (DESIGN.md section 4).
 */
export interface Result {
  device: string;
  ts: number;
  values: number[];
  /** The forecast made at the previous sample for each target; null for a device's first sample. */
  expected: number[] | null;
  /** values - expected per target; null when there was no forecast. */
  error: number[] | null;
  /** Raw score: RMS of the normalized errors (or Gaussian NLL with a variance head); null without a forecast. */
  score: number | null;
  /** The anomaly score the threshold applies to, in [0, 1]: how unusual this reading is against the device's own normal (the largest over its features); null without a forecast. */
  likelihood: number | null;
  /** The device is in an anomalous episode: true from the reading that opens it until the one that closes it (which is false). Never in the learning period. */
  anomaly: boolean;
  /** Targets anomalous at this reading (inside an episode: every target involved so far); empty when none. */
  anomalous: string[];
  /** The episode this reading belongs to, or null; state 'start' and 'end' are the two events the anomaly topic gets. */
  episode: Episode | null;
  /** Forecast of the next `horizon` readings, step-major: [step1 targets..., step2 targets...]. */
  forecast: number[];
  /** In the device's learning period (no alarms). */
  warmup: boolean;
  model: string;
}

/** One anomalous episode, as far as it has come. */
export interface Episode {
  state: 'start' | 'active' | 'end';
  /** Timestamp of the reading that opened it. */
  start: number;
  /** Readings in it so far (at 'end': all of them, the calm ones that closed it included). */
  readings: number;
  /** This reading's ts minus start, ms. */
  durationMs: number;
  /** Highest likelihood in it so far. */
  peak: number;
  /** Targets involved so far. */
  features: string[];
}

export const MAX_DEVICE_ID_LENGTH = 256;

/** Checks a sample; throws a SampleError naming the field, what was expected and what was found. */
export function validateSample(s: unknown, features: readonly string[]): asserts s is Sample {
  if (typeof s !== 'object' || s === null) throw new SampleError('E_BAD_VALUE', 'sample must be an object', { field: 'sample', expected: 'an object', found: s === null ? 'null' : typeof s });
  const o = s as Record<string, unknown>;
  const device = o['device'];
  if (typeof device !== 'string' || device.length === 0 || device.length > MAX_DEVICE_ID_LENGTH) {
    throw new SampleError('E_BAD_DEVICE', 'sample has no usable device id', {
      field: 'device',
      expected: `a string of 1 to ${MAX_DEVICE_ID_LENGTH} characters`,
      found: typeof device === 'string' ? `a string of ${device.length} characters` : describe(device),
    });
  }
  const ts = o['ts'];
  if (ts !== undefined && (typeof ts !== 'number' || !Number.isFinite(ts))) {
    throw new SampleError('E_BAD_TIMESTAMP', 'timestamp is not a finite number', { field: 'ts', expected: 'epoch milliseconds', found: describe(ts), device });
  }
  const values = o['values'];
  if (typeof values !== 'object' || values === null || typeof (values as ArrayLike<unknown>).length !== 'number') {
    throw new SampleError('E_BAD_LENGTH', 'values must be an array', { field: 'values', expected: `${features.length} numbers`, found: describe(values), device });
  }
  const arr = values as ArrayLike<unknown>;
  if (arr.length !== features.length) {
    throw new SampleError('E_BAD_LENGTH', 'wrong number of values', { field: 'values', expected: `${features.length} (${features.join(', ')})`, found: String(arr.length), device });
  }
  for (let i = 0; i < arr.length; i++) {
    const v = arr[i];
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new SampleError('E_BAD_VALUE', 'value is not a finite number', { field: `values[${i}] (${features[i]})`, expected: 'a finite number', found: describe(v), device });
    }
  }
}

function describe(v: unknown): string {
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 37)}...` : v);
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array of ${v.length}`;
  return typeof v;
}
