import { describe, it, expect } from 'vitest';
import { missingNodeFlags, DAEMON_NODE_FLAGS } from './node-flags.js';

describe('missingNodeFlags', () => {
  it('adds the daemon flags unless the command line sets them (any value, - or _ spelling)', () => {
    expect(missingNodeFlags([])).toEqual(DAEMON_NODE_FLAGS);
    expect(missingNodeFlags(['--cpu-prof'])).toEqual(DAEMON_NODE_FLAGS);
    expect(missingNodeFlags(['--max-semi-space-size=4'])).toEqual([]);
    expect(missingNodeFlags(['--max_semi_space_size=4'])).toEqual([]);
    expect(missingNodeFlags(['--a=1'], ['--a=2', '--b'])).toEqual(['--b']);
  });
});
