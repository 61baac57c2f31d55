import { describe, expect, test } from 'vitest';
import { classifyRuntimeFailure, OciRuntimeError } from './runtime-failure.js';

describe('runc/crun failures, classified once', () => {
  test.each([
    ['state: container does not exist', 'not-found'],
    ['kill: container `abc` does not exist', 'not-found'],
    ['delete: open /run/crun/abc/status: No such file or directory', 'not-found'],
    ['kill: container not running', 'not-running'],
    ['kill: process already finished', 'not-running'],
    ['update: unable to set memory limit to 1048576 (current usage: 4194304, peak usage: 5242880)', 'limit-below-usage'],
    ['update: failed to write "-5": write /sys/fs/cgroup/cpu/x/cpu.shares: invalid argument', 'invalid-value'],
    ['update: failed to write 100 to memory.max: open memory.max: no such file or directory', 'invalid-value'],
    ['update: cpu-shares: maximum allowed is 262144', 'invalid-value'],
    ['start: exec format error', 'other'],
  ])('%s → %s', (msg, failure) => {
    expect(classifyRuntimeFailure(msg)).toBe(failure);
    expect(new OciRuntimeError(msg).failure).toBe(failure);
  });
});
