// The error kinds of Bulkhead's domain, in the spirit of containerd's errdefs: code below the CRI
// layer says *what* went wrong (the request is invalid, a thing is missing, the state forbids it),
// and only the gRPC edge (pkg/grpc/errors.ts toStatus) turns a kind into a status code. Anything
// thrown without a kind is a bug or a system failure: INTERNAL at the edge, logged with its stack.

export type ErrorKind =
  | 'invalid-argument' // the request itself is wrong: retrying it unchanged fails again
  | 'not-found' // a named pod, container, image or file does not exist
  | 'already-exists' // a name or id is taken
  | 'failed-precondition' // the request is fine but the current state forbids it
  | 'unimplemented' // a capability Bulkhead (or this handler) does not offer
  | 'internal' // a failure of ours or of a tool we run
  | 'unavailable' // a dependency (registry, guest agent) cannot be reached now: retry later
  | 'deadline-exceeded' // the caller's time ran out
  | 'resource-exhausted' // a cap, a quota or the disk is full
  | 'aborted' // a concurrent change won
  | 'unauthenticated' // credentials missing or refused
  | 'permission-denied'; // credentials fine, access refused

export class BulkheadError extends Error {
  readonly kind: ErrorKind;
  constructor(kind: ErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.kind = kind;
    this.name = 'BulkheadError';
  }
}

export const invalidArgument = (msg: string, cause?: unknown) => new BulkheadError('invalid-argument', msg, { cause });
export const notFound = (msg: string, cause?: unknown) => new BulkheadError('not-found', msg, { cause });
export const alreadyExists = (msg: string, cause?: unknown) => new BulkheadError('already-exists', msg, { cause });
export const failedPrecondition = (msg: string, cause?: unknown) => new BulkheadError('failed-precondition', msg, { cause });
export const unimplemented = (msg: string) => new BulkheadError('unimplemented', msg);
export const internal = (msg: string, cause?: unknown) => new BulkheadError('internal', msg, { cause });
export const unavailable = (msg: string, cause?: unknown) => new BulkheadError('unavailable', msg, { cause });
export const deadlineExceeded = (msg: string, cause?: unknown) => new BulkheadError('deadline-exceeded', msg, { cause });
export const resourceExhausted = (msg: string, cause?: unknown) => new BulkheadError('resource-exhausted', msg, { cause });
export const aborted = (msg: string, cause?: unknown) => new BulkheadError('aborted', msg, { cause });
export const unauthenticated = (msg: string, cause?: unknown) => new BulkheadError('unauthenticated', msg, { cause });
export const permissionDenied = (msg: string, cause?: unknown) => new BulkheadError('permission-denied', msg, { cause });

export function isBulkheadError(e: unknown): e is BulkheadError {
  return e instanceof BulkheadError;
}

/** The kind of a thrown value: its own, or what a system error says about the request; else internal. */
export function errorKind(e: unknown): ErrorKind {
  if (e instanceof BulkheadError) return e.kind;
  const code = errnoCode(e);
  if (code === 'ENOSPC' || code === 'EDQUOT') return 'resource-exhausted';
  // Node refuses NUL bytes in paths, argv and env: they can only come from the request.
  if ((code === 'ERR_INVALID_ARG_VALUE' || code === 'ERR_INVALID_ARG_TYPE') && /null bytes/.test((e as Error).message)) return 'invalid-argument';
  // Only a name from the request (cgroup_parent, paths, ids) can be too long for the kernel.
  if (code === 'ENAMETOOLONG') return 'invalid-argument';
  return 'internal';
}

export function errnoCode(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException | undefined)?.code;
}
