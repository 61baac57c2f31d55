import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CriLogWriter, formatCriLines, rfc3339Nano } from './cri-log.js';
import { parseFlatKeyed } from './cgroup-stats.js';

describe('CRI log format', () => {
  it('formats full and partial lines', () => {
    expect(formatCriLines('stdout', 'a\nb\n', true, 'T')).toBe('T stdout F a\nT stdout F b\n');
    expect(formatCriLines('stderr', 'x', false, 'T')).toBe('T stderr P x\n');
    expect(rfc3339Nano(new Date('2026-11-23T07:15:47.123Z'))).toBe('2026-11-23T07:15:47.123000000Z');
  });

  it('holds partial lines until the newline, or the end of the stream (then P, as conmon)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bh-crilog-'));
    try {
      const w = new CriLogWriter(join(dir, 'log'));
      const appended: string[] = [];
      w.on('append', (b) => appended.push(b.toString()));
      w.write('stdout', Buffer.from('hel'));
      w.write('stdout', Buffer.from('lo\nwor'));
      w.write('stderr', Buffer.from('err\n'));
      w.flush();
      const lines = readFileSync(join(dir, 'log'), 'utf8').trim().split('\n').map((l) => l.split(' ').slice(1).join(' '));
      expect(lines).toEqual(['stdout F hello', 'stderr F err', 'stdout P wor']);
      expect(appended.join('')).toBe(readFileSync(join(dir, 'log'), 'utf8'));
      expect(w.bytes).toBe(readFileSync(join(dir, 'log')).length);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('parses cgroup v2 flat-keyed files', () => {
    expect(parseFlatKeyed('usage_usec 1200\nuser_usec 1000\nbad\n')).toEqual(new Map([['usage_usec', 1200n], ['user_usec', 1000n]]));
  });
});
