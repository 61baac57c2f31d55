// What a failed runc/crun call means, decided once from the runtime's own message. runc and crun
// only say it in words; every caller used to grep the text itself (notFound in the CLI wrapper,
// "not running" in kill, cgroup write failures in update).

export type RuntimeFailure =
  /** No such container (state/kill/delete of one already gone). */
  | 'not-found'
  /** The container exists but its process is gone (kill after exit). */
  | 'not-running'
  /** The kernel refused a cgroup value (EINVAL/ERANGE on a cgroup file): the request's fault. */
  | 'invalid-value'
  /** A memory limit below what the container uses now: the kernel says EBUSY until usage drops. */
  | 'limit-below-usage'
  | 'other';

// First match wins: cgroup write failures first, as their text often ends in an errno string
// ("failed to write ...: no such file or directory") that would read as a missing container.
const PATTERNS: [RuntimeFailure, RegExp][] = [
  ['limit-below-usage', /unable to set memory limit to \d+ \(current usage/i],
  ['invalid-value', /invalid argument|numerical result out of range|failed to write|(maximum|minimum) allowed/i],
  // runc: "container does not exist"; crun: "container `x` does not exist" / "No such file or directory"
  ['not-found', /does not exist|not found|no such file/i],
  ['not-running', /not running|process already finished/i],
];

export function classifyRuntimeFailure(message: string): RuntimeFailure {
  for (const [failure, re] of PATTERNS) if (re.test(message)) return failure;
  return 'other';
}

export class OciRuntimeError extends Error {
  readonly failure: RuntimeFailure;
  constructor(message: string, failure: RuntimeFailure = classifyRuntimeFailure(message)) {
    super(message);
    this.name = 'OciRuntimeError';
    this.failure = failure;
  }

  get notFound(): boolean {
    return this.failure === 'not-found';
  }
}
