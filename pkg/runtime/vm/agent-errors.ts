// Agent failures as CRI errors: the agent's protocol Code passes through when it names bad input or
// state (InvalidArgument, NotFound, FailedPrecondition); anything else is the runtime's Internal.
import { BulkheadError, failedPrecondition, internal, invalidArgument, notFound } from '../../errors/errors.js';
import { AgentError, Code } from '../../vmchannel/codec.js';

/** An agent failure as a CRI error, its message prefixed with what failed. */
export function agentError(what: string, e: AgentError): BulkheadError {
  const msg = `${what}: ${e.message}`;
  if (e.code === Code.InvalidArgument) return invalidArgument(msg);
  if (e.code === Code.NotFound) return notFound(msg);
  if (e.code === Code.FailedPrecondition) return failedPrecondition(msg);
  return internal(msg);
}

/** e as a CRI error when the agent raised it; anything else (a BulkheadError, a bug) as it is. */
export function fromAgent(what: string, e: unknown): unknown {
  return e instanceof AgentError ? agentError(what, e) : e;
}

/** The agent does not know the container (already deleted, or never created in this guest). */
export function isAgentNotFound(e: unknown): boolean {
  return e instanceof AgentError && e.code === Code.NotFound;
}
