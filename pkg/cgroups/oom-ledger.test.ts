import { describe, it, expect } from 'vitest';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OomLedger, readOomKills } from './oom-ledger.js';

/** A fake cgroup tree: oom_kill per dir; a missing entry is a removed cgroup. */
class Tree {
  readonly kills = new Map<string, number>();
  read = (dir: string) => this.kills.get(dir);
  /** A kill in dir, counted up the hierarchy as cgroup v2 memory.events does. */
  kill(dir: string): void {
    for (let d = dir; d !== '/'; d = d.slice(0, d.lastIndexOf('/')) || '/') if (this.kills.has(d)) this.kills.set(d, (this.kills.get(d) ?? 0) + 1);
  }
}

const POD = '/bulkhead.slice/bulkhead-pod1.slice';
const scope = (id: string) => `${POD}/bulkhead-${id}.scope`;

function setup() {
  const t = new Tree();
  t.kills.set('/bulkhead.slice', 0);
  t.kills.set(POD, 0);
  const ledger = new OomLedger(t.read);
  const start = (id: string) => {
    t.kills.set(scope(id), 0);
    ledger.track(id, scope(id));
  };
  /** The container's last process died: systemd removes the scope's cgroup at once. */
  const gone = (id: string) => t.kills.delete(scope(id));
  return { t, ledger, start, gone };
}

describe('OomLedger', () => {
  it('an OOM kill is found through the pod slice after systemd removed the scope', () => {
    const { t, ledger, start, gone } = setup();
    start('a');
    t.kill(scope('a'));
    gone('a');
    expect(ledger.exitedOomKilled('a')).toBe(true);
    // settled: the same answer after the pod slice moved on
    t.kill(POD);
    expect(ledger.exitedOomKilled('a')).toBe(true);
  });

  it('a plain exit is not OOM, even after an earlier sibling was OOM-killed', () => {
    const { t, ledger, start, gone } = setup();
    start('a');
    start('b');
    t.kill(scope('a'));
    gone('a');
    expect(ledger.exitedOomKilled('a')).toBe(true);
    gone('b');
    expect(ledger.exitedOomKilled('b')).toBe(false);
  });

  it('a kill in a live sibling is the sibling\'s', () => {
    const { t, ledger, start, gone } = setup();
    start('a');
    start('b');
    t.kill(scope('b')); // b's child process killed, b keeps running
    gone('a');
    expect(ledger.exitedOomKilled('a')).toBe(false);
  });

  it('two containers killed together by a pod-level limit both count', () => {
    const { t, ledger, start, gone } = setup();
    start('a');
    start('b');
    t.kill(scope('a'));
    t.kill(scope('b'));
    gone('a');
    gone('b');
    expect(ledger.exitedOomKilled('b')).toBe(true);
    expect(ledger.exitedOomKilled('a')).toBe(true);
  });

  it('kills of a removed sibling stay counted for containers that started before it', () => {
    const { t, ledger, start, gone } = setup();
    start('a');
    start('b');
    t.kill(scope('b'));
    gone('b');
    expect(ledger.exitedOomKilled('b')).toBe(true);
    ledger.forget('b');
    gone('a');
    expect(ledger.exitedOomKilled('a')).toBe(false);
  });

  it('kills before a container started are not its own', () => {
    const { t, ledger, start, gone } = setup();
    start('a');
    t.kill(scope('a'));
    gone('a');
    ledger.exitedOomKilled('a');
    ledger.forget('a');
    start('b');
    gone('b');
    expect(ledger.exitedOomKilled('b')).toBe(false);
  });

  it('the own cgroup decides while it still exists (cgroupfs driver, slow systemd)', () => {
    const { t, ledger, start } = setup();
    start('a');
    start('b');
    t.kill(scope('b'));
    expect(ledger.exitedOomKilled('a')).toBe(false);
    expect(ledger.exitedOomKilled('b')).toBe(true);
  });

  it('untracked or untrackable containers (cgroup v1: no memory.events) are undefined and not retried', () => {
    const t = new Tree();
    const ledger = new OomLedger(t.read);
    ledger.track('v1', '/kubepods/pod1/v1');
    expect(ledger.has('v1')).toBe(true);
    expect(ledger.exitedOomKilled('v1')).toBeUndefined();
    expect(ledger.exitedOomKilled('other')).toBeUndefined();
    ledger.forget('v1');
    expect(ledger.size).toBe(0);
  });

  it('forget leaves nothing behind', () => {
    const { ledger, start, gone } = setup();
    start('a');
    start('b');
    gone('a');
    ledger.exitedOomKilled('a');
    ledger.forget('a');
    ledger.forget('b');
    expect(ledger.size).toBe(0);
  });
});

describe('readOomKills', () => {
  it('reads oom_kill of memory.events; undefined without the file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bulkhead-oomledger-'));
    try {
      writeFileSync(join(dir, 'memory.events'), 'low 0\nhigh 0\nmax 12\noom 2\noom_kill 2\noom_group_kill 0\n');
      expect(readOomKills(dir)).toBe(2);
      mkdirSync(join(dir, 'gone'));
      expect(readOomKills(join(dir, 'gone'))).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
