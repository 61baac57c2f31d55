import { describe, expect, it } from 'vitest';
import { normalizeReference, parseReference } from './reference.js';

const D = 'sha256:' + 'a'.repeat(64);

describe('image reference normalisation', () => {
  it.each([
    ['busybox', 'docker.io/library/busybox:latest'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36'],
    ['library/busybox', 'docker.io/library/busybox:latest'],
    ['docker.io/busybox', 'docker.io/library/busybox:latest'],
    ['index.docker.io/library/busybox:1', 'docker.io/library/busybox:1'],
    ['user/app:v2', 'docker.io/user/app:v2'],
    ['registry.k8s.io/pause:3.6', 'registry.k8s.io/pause:3.6'],
    ['localhost/app', 'localhost/app:latest'],
    ['127.0.0.1:5000/a/b', '127.0.0.1:5000/a/b:latest'],
    [`host:5000/a/b@${D}`, `host:5000/a/b@${D}`],
    [`busybox:1.36@${D}`, `docker.io/library/busybox@${D}`],
    ['a.b-c/x__y/z.w-q:T_1.2-3', 'a.b-c/x__y/z.w-q:T_1.2-3'],
  ])('%s → %s', (input, want) => {
    expect(normalizeReference(input)).toBe(want);
  });

  it.each([
    [''],
    ['Busybox'],
    ['busybox:'],
    ['busybox@sha256:abc'],
    [`busybox@sha256:${'A'.repeat(64)}`],
    ['a//b'],
    ['-a'],
    ['host:port/x'],
    [' busybox'],
    ['busybox:' + 'x'.repeat(129)],
    ['a'.repeat(64)],
  ])('rejects %j with InvalidArgument', (input) => {
    expect(() => parseReference(input)).toThrow(/invalid image reference/);
    try {
      parseReference(input);
    } catch (e) {
      expect((e as { kind: string }).kind).toBe('invalid-argument');
    }
  });

  it('splits the parts', () => {
    expect(parseReference('127.0.0.1:5000/a/b:v1')).toEqual({ domain: '127.0.0.1:5000', path: 'a/b', tag: 'v1' });
  });
});
