import { EdgeLstmError, type ErrorCode, type ErrorDetails } from '../errors';

/**
 * Why a model request was refused. `reason` is one of a fixed set of short
 * texts and is all a reply on the broker carries: it never repeats the
 * request, a path, a URL, a size or the hash of fetched bytes, so a client
 * cannot use replies to probe files or an internal network. The full
 * message (with the file, field, expected and found) goes to the local log.
 */
export type RefusalReason =
  | 'request is not valid'
  | 'model is unsigned and signatures are required'
  | 'signature does not verify'
  | 'no public key is configured and signatures are required'
  | 'path requests are off or the path is not allowed'
  | 'url is not allowed'
  | 'the model could not be fetched, is too large, or does not match its sha256'
  | 'the device does not hold that model'
  | 'the model does not load'
  | 'another update is in progress';

export class AcquireError extends EdgeLstmError {
  readonly reason: RefusalReason;
  constructor(code: ErrorCode, reason: RefusalReason, message: string, details: ErrorDetails = {}) {
    super(code, message, details);
    this.name = 'AcquireError';
    this.reason = reason;
  }
}

/** The reply-safe text of any error: the reason of an AcquireError, a fixed text otherwise. */
export function publicReason(e: unknown): RefusalReason {
  if (e instanceof AcquireError) return e.reason;
  if (e instanceof EdgeLstmError && e.code === 'E_SIGNATURE') return 'signature does not verify';
  return 'the model does not load';
}
