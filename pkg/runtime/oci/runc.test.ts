import { describe, expect, it } from 'vitest';
import { runtimeErrorMessage } from './runc.js';
import { conmonArgs } from './conmon.js';

describe('runtimeErrorMessage', () => {
  it('extracts logrus msg fields and JSON msgs', () => {
    expect(runtimeErrorMessage('time="x" level=error msg="container \\"abc\\" does not exist"\n')).toBe('container "abc" does not exist');
    expect(runtimeErrorMessage('{"level":"error","msg":"oci runtime error: exec failed"}\n')).toBe('oci runtime error: exec failed');
    expect(runtimeErrorMessage('plain failure\n')).toBe('plain failure');
  });
});

describe('conmonArgs', () => {
  const base = {
    conmonPath: 'conmon', runtimePath: '/usr/sbin/runc', runtimeRoot: '/run/b/runtimes/runc', id: 'a'.repeat(64), name: 'c',
    bundleDir: '/b', logPath: '/logs/c.log', exitDir: '/run/b/exits', socketDir: '/run/b/attach', tty: false, stdin: false, stdinOnce: false,
  };
  it('passes the runtime root, k8s-file log driver and exit dir', () => {
    const a = conmonArgs(base);
    expect(a).toContain('k8s-file:/logs/c.log');
    expect(a).toContain('--root=/run/b/runtimes/runc');
    expect(a[a.indexOf('--exit-dir') + 1]).toBe('/run/b/exits');
    expect(a).not.toContain('-i');
  });
  it('keeps stdin open unless stdin_once', () => {
    expect(conmonArgs({ ...base, stdin: true })).toEqual(expect.arrayContaining(['-i', '--leave-stdin-open']));
    expect(conmonArgs({ ...base, stdin: true, stdinOnce: true })).not.toContain('--leave-stdin-open');
    expect(conmonArgs({ ...base, stdin: true, tty: true })).toEqual(expect.arrayContaining(['-i', '-t']));
  });
});
