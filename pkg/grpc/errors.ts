// The one place where errors get gRPC status codes: the RPC wrapper (server.ts) calls toStatus on
// whatever a handler threw. Code below the CRI layer throws pkg/errors kinds and never sees a code.
import { status } from '@grpc/grpc-js';
import { errnoCode, errorKind, type ErrorKind } from '../errors/errors.js';

export { status as GrpcCode };

const CODE_OF: Record<ErrorKind, status> = {
  'invalid-argument': status.INVALID_ARGUMENT,
  'not-found': status.NOT_FOUND,
  'already-exists': status.ALREADY_EXISTS,
  'failed-precondition': status.FAILED_PRECONDITION,
  unimplemented: status.UNIMPLEMENTED,
  internal: status.INTERNAL,
  unavailable: status.UNAVAILABLE,
  'deadline-exceeded': status.DEADLINE_EXCEEDED,
  'resource-exhausted': status.RESOURCE_EXHAUSTED,
  aborted: status.ABORTED,
  unauthenticated: status.UNAUTHENTICATED,
  'permission-denied': status.PERMISSION_DENIED,
};

/**
 * Status details travel in the grpc-message trailer (percent-encoded). Messages often quote the
 * request ("container \"<id>\" not found"): unbounded, a 100 KB id made a trailer the client
 * refuses, so the call hung until its deadline. 1024 characters stay far below header limits.
 */
export const MAX_STATUS_DETAILS = 1024;

function bounded(details: string): string {
  return details.length <= MAX_STATUS_DETAILS ? details : `${details.slice(0, MAX_STATUS_DETAILS)}… (${details.length - MAX_STATUS_DETAILS} more characters)`;
}

/** Maps any thrown value to a gRPC code and a message safe to send to the client. */
export function toStatus(e: unknown): { code: status; details: string } {
  const kind = errorKind(e);
  const message = e instanceof Error ? e.message : String(e);
  // System errors classified by errorKind say so in their details (the errno text alone is cryptic).
  const code = errnoCode(e);
  const prefix =
    !(e instanceof Error) || e.name === 'BulkheadError'
      ? ''
      : code === 'ENOSPC' || code === 'EDQUOT'
        ? 'no space left on device: '
        : code === 'ENAMETOOLONG'
          ? 'name too long: '
          : kind === 'invalid-argument'
            ? 'NUL byte in a request field: '
            : '';
  return { code: CODE_OF[kind], details: bounded(prefix + message) };
}
