import { describe, expect, it } from 'vitest';
import { LOG_QUEUE_HIGH_WATER, LOG_QUEUE_LOW_WATER, LogShipper } from './log-shipper.js';

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('LogShipper', () => {
  it('writes asynchronously in order, batching what queued during a write', async () => {
    const writes: string[] = [];
    let gate = deferred();
    const s = new LogShipper({
      append: async (b) => {
        writes.push(b.toString());
        await gate.promise;
      },
      onWritten: () => undefined,
      onError: () => undefined,
    });
    s.push(Buffer.from('a'));
    s.push(Buffer.from('b'));
    s.push(Buffer.from('c'));
    expect(writes).toEqual(['a']);
    gate.resolve();
    gate = deferred();
    gate.resolve();
    await s.idle();
    expect(writes).toEqual(['a', 'bc']);
    expect(s.backlog).toBe(0);
  });

  it('pauses the stream at the high-water mark and resumes under the low one', async () => {
    const events: string[] = [];
    let gate = deferred();
    let written = 0;
    const s = new LogShipper({ append: () => gate.promise, onWritten: (n) => (written += n), onError: () => undefined });
    s.setFlow({ pause: () => events.push('pause'), resume: () => events.push('resume') });
    const chunk = Buffer.alloc(64 << 10);
    for (let i = 0; i < LOG_QUEUE_HIGH_WATER / chunk.length; i++) s.push(chunk);
    expect(events).toEqual(['pause']);
    expect(s.backlog).toBe(LOG_QUEUE_HIGH_WATER);
    gate.resolve(); // the first chunk's write
    gate = deferred();
    await new Promise((r) => setImmediate(r));
    expect(s.backlog).toBeGreaterThan(LOG_QUEUE_LOW_WATER);
    expect(events).toEqual(['pause']);
    gate.resolve();
    await s.idle();
    expect(events).toEqual(['pause', 'resume']);
    expect(written).toBe(LOG_QUEUE_HIGH_WATER);
  });

  it('reports a failed append and carries on', async () => {
    const errors: number[] = [];
    let fail = true;
    const ok: number[] = [];
    const s = new LogShipper({
      append: async () => {
        if (fail) throw new Error('ENOSPC');
      },
      onWritten: (n) => ok.push(n),
      onError: (_e, n) => errors.push(n),
    });
    s.push(Buffer.alloc(3));
    await s.idle();
    fail = false;
    s.push(Buffer.alloc(5));
    await s.idle();
    expect(errors).toEqual([3]);
    expect(ok).toEqual([5]);
  });
});
