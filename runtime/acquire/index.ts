/** Model acquisition: the one path by which a model changes at run time. */
export { acquireModel, acquireUpload, authorize, type AcquireContext, type VerifiedModel } from './acquire';
export { AcquireError, publicReason, type RefusalReason } from './acquire-error';
export { ACQUIRE_DEFAULTS, policyWarnings, resolveAcquirePolicy, type AcquireOptions, type AcquirePolicy } from './policy';
export { MAX_REQUEST_BYTES, parseModelRequest, type ModelRequest } from './request';
