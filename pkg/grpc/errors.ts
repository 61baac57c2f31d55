// The one place where errors get gRPC status codes. Handlers throw these; the RPC wrapper
// turns them into statuses. Anything else thrown becomes INTERNAL (and is logged with its stack).
import { status } from '@grpc/grpc-js';

export { status as GrpcCode };

export class CriError extends Error {
  readonly code: status;
  constructor(code: status, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'CriError';
  }
}

export const invalidArgument = (msg: string, cause?: unknown) => new CriError(status.INVALID_ARGUMENT, msg, { cause });
export const notFound = (msg: string, cause?: unknown) => new CriError(status.NOT_FOUND, msg, { cause });
export const alreadyExists = (msg: string, cause?: unknown) => new CriError(status.ALREADY_EXISTS, msg, { cause });
export const failedPrecondition = (msg: string, cause?: unknown) => new CriError(status.FAILED_PRECONDITION, msg, { cause });
export const unimplemented = (msg: string) => new CriError(status.UNIMPLEMENTED, msg);
export const internal = (msg: string, cause?: unknown) => new CriError(status.INTERNAL, msg, { cause });
export const unavailable = (msg: string, cause?: unknown) => new CriError(status.UNAVAILABLE, msg, { cause });
export const deadlineExceeded = (msg: string, cause?: unknown) => new CriError(status.DEADLINE_EXCEEDED, msg, { cause });
export const resourceExhausted = (msg: string, cause?: unknown) => new CriError(status.RESOURCE_EXHAUSTED, msg, { cause });
export const aborted = (msg: string, cause?: unknown) => new CriError(status.ABORTED, msg, { cause });
export const unauthenticated = (msg: string, cause?: unknown) => new CriError(status.UNAUTHENTICATED, msg, { cause });
export const permissionDenied = (msg: string, cause?: unknown) => new CriError(status.PERMISSION_DENIED, msg, { cause });

export function isCriError(e: unknown): e is CriError {
  return e instanceof CriError;
}

/** Maps any thrown value to a gRPC code and a message safe to send to the client. */
/**
 * Status details travel in the grpc-message trailer (percent-encoded). Messages often quote the
 * request ("container \"<id>\" not found"): unbounded, a 100 KB id made a trailer the client
 * refuses, so the call hung until its deadline. 1024 characters stay far below header limits.
 */
export const MAX_STATUS_DETAILS = 1024;

function bounded(details: string): string {
  return details.length <= MAX_STATUS_DETAILS ? details : `${details.slice(0, MAX_STATUS_DETAILS)}… (${details.length - MAX_STATUS_DETAILS} more characters)`;
}

export function toStatus(e: unknown): { code: status; details: string } {
  if (e instanceof CriError) return { code: e.code, details: bounded(e.message) };
  const err = e as NodeJS.ErrnoException | undefined;
  if (err && err.code === 'ENOSPC') return { code: status.RESOURCE_EXHAUSTED, details: bounded(`no space left on device: ${err.message}`) };
  // Node refuses NUL bytes in paths, argv and env: they can only come from the request.
  if (err && (err.code === 'ERR_INVALID_ARG_VALUE' || err.code === 'ERR_INVALID_ARG_TYPE') && /null bytes/.test(err.message)) return { code: status.INVALID_ARGUMENT, details: bounded(`NUL byte in a request field: ${err.message}`) };
  // Only a name from the request (cgroup_parent, paths, ids) can be too long for the kernel.
  if (err && err.code === 'ENAMETOOLONG') return { code: status.INVALID_ARGUMENT, details: bounded(`name too long: ${err.message}`) };
  const message = err instanceof Error ? err.message : String(e);
  return { code: status.INTERNAL, details: bounded(message) };
}

export function errnoCode(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}
