/** Every error edgelstm raises on purpose carries a stable `code`. */
export type ErrorCode =
  | 'E_BAD_VALUE' // a sample value is not a finite number
  | 'E_BAD_LENGTH' // a sample has the wrong number of values
  | 'E_BAD_DEVICE' // a sample has no usable device id
  | 'E_BAD_TIMESTAMP' // a sample's timestamp is not a finite number
  | 'E_MODEL' // a model file breaks the contract
  | 'E_SNAPSHOT' // a state snapshot cannot be restored
  | 'E_CSV' // a CSV input is malformed
  | 'E_CONFIG' // an option or config file value is invalid
  | 'E_CLOSED' // the engine was closed
  | 'E_PAYLOAD' // an MQTT payload cannot be decoded
  | 'E_TOPIC' // an MQTT topic does not match the template
  | 'E_OVERLOAD' // a reading was dropped by the drop policy
  | 'E_SPARKPLUG' // a Sparkplug B message breaks its session rules (no birth certificate, unknown alias)
  | 'E_SIGNATURE'; // a model is unsigned, or its ed25519 signature does not verify

export interface ErrorDetails {
  /** The file the problem is in, when there is one. */
  file?: string;
  line?: number;
  column?: string;
  /** The tensor, metadata key, option or field at fault. */
  field?: string;
  expected?: string;
  found?: string;
  device?: string;
}

export class EdgeLstmError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetails;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
    super(message);
    this.name = 'EdgeLstmError';
    this.code = code;
    this.details = details;
  }
}

/** A sample the engine refused: counted, reported, and no state was touched. */
export class SampleError extends EdgeLstmError {
  constructor(code: 'E_BAD_VALUE' | 'E_BAD_LENGTH' | 'E_BAD_DEVICE' | 'E_BAD_TIMESTAMP', message: string, details: ErrorDetails = {}) {
    super(code, formatWithDetails(message, details), details);
    this.name = 'SampleError';
  }
}

/** A model that cannot be used: names the file, the tensor or key, what was expected and found. */
export class ModelError extends EdgeLstmError {
  constructor(message: string, details: ErrorDetails = {}) {
    super('E_MODEL', formatWithDetails(message, details), details);
    this.name = 'ModelError';
  }
}

export function formatWithDetails(message: string, d: ErrorDetails): string {
  const where = [d.file, d.line !== undefined ? `line ${d.line}` : undefined, d.column !== undefined ? `column ${d.column}` : undefined]
    .filter((s) => s !== undefined)
    .join(', ');
  const what = d.field !== undefined ? `${d.field}: ` : '';
  const ef = d.expected !== undefined || d.found !== undefined ? ` (expected ${d.expected ?? '?'}, found ${d.found ?? '?'})` : '';
  return `${where ? `${where}: ` : ''}${what}${message}${ef}`;
}
