import { describe, expect, it } from 'vitest';
import { status } from '@grpc/grpc-js';
import { BulkheadError } from '../../errors/errors.js';
import { toStatus } from '../../grpc/errors.js';
import { AgentError, Code } from '../../vmchannel/codec.js';
import { agentError, fromAgent, isAgentNotFound } from './agent-errors.js';

describe('agent errors as CRI errors', () => {
  it('passes the input and state codes through, everything else is INTERNAL', () => {
    expect(toStatus(agentError('guest agent', new AgentError(Code.InvalidArgument, 'bad spec'))).code).toBe(status.INVALID_ARGUMENT);
    expect(toStatus(agentError('guest agent', new AgentError(Code.NotFound, 'x'))).code).toBe(status.NOT_FOUND);
    expect(toStatus(agentError('guest agent', new AgentError(Code.FailedPrecondition, 'x'))).code).toBe(status.FAILED_PRECONDITION);
    expect(toStatus(agentError('guest agent', new AgentError(Code.Unavailable, 'x'))).code).toBe(status.INTERNAL);
    expect(agentError('pod VM agent', new AgentError(Code.Internal, 'crun died')).message).toMatch(/pod VM agent: crun died/);
  });

  it('leaves non-agent errors alone', () => {
    const e = new Error('bug');
    expect(fromAgent('x', e)).toBe(e);
    expect(fromAgent('x', new AgentError(Code.NotFound, 'y'))).toBeInstanceOf(BulkheadError);
    expect(isAgentNotFound(new AgentError(Code.NotFound, 'y'))).toBe(true);
    expect(isAgentNotFound(new AgentError(Code.Internal, 'y'))).toBe(false);
    expect(isAgentNotFound(e)).toBe(false);
  });
});
