// The guest's copy of a container log stays bounded on tmpfs; offsets stay logical.
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CriLogWriter, GUEST_LOG_MAX_BYTES } from './cri-log.js';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));
function writer(max: number, margin: number): CriLogWriter {
  const d = mkdtempSync(join(tmpdir(), 'bh-crilog-bound-'));
  dirs.push(d);
  return new CriLogWriter(join(d, 'log'), max, margin);
}
const line = (i: number): Buffer => Buffer.from(`line ${String(i).padStart(6, '0')} ${'x'.repeat(60)}\n`);

describe('bounded guest log', () => {
  it('caps the file when no host reads it, keeping whole lines and logical offsets', () => {
    const w = writer(64 << 10, 16 << 10);
    for (let i = 0; i < 5000; i++) w.write('stdout', line(i));
    expect(w.bytes).toBeGreaterThan(300 << 10);
    expect(statSync(w.path).size).toBe(w.fileBytes);
    expect(w.fileBytes).toBeLessThanOrEqual(64 << 10);
    const text = readFileSync(w.path, 'utf8');
    expect(text).toMatch(/^\S+ stdout F line \d{6} x+\n/);
    expect(text.endsWith(`stdout F ${line(4999).toString()}`)).toBe(true);
    // logical reads: the newest bytes by their offset
    const buf = Buffer.alloc(100);
    const n = w.read(w.bytes - 10, buf);
    expect(buf.subarray(0, n).toString()).toBe(text.slice(-10));
    expect(() => w.read(0, buf)).toThrow(RangeError);
  });

  it('keeps the resume margin behind what a host was sent, when the cap allows', () => {
    const w = writer(64 << 10, 16 << 10);
    let shipped = 0;
    for (let i = 0; i < 3000; i++) {
      w.write('stdout', line(i));
      shipped = w.bytes;
      w.markShipped(shipped);
    }
    expect(w.fileBytes).toBeLessThanOrEqual(64 << 10);
    // a restarted host resumes up to the margin behind: still in the file
    expect(w.firstOffset).toBeLessThanOrEqual(shipped - (16 << 10));
  });

  it('stays put while under the cap', () => {
    const w = writer(GUEST_LOG_MAX_BYTES, 2 << 20);
    for (let i = 0; i < 100; i++) w.write('stderr', line(i));
    expect(w.firstOffset).toBe(0);
    expect(w.fileBytes).toBe(w.bytes);
  });
});

describe('holding a container behind a lagging host', () => {
  it('holds while a follower lags half the cap, releases at a quarter', () => {
    const w = writer(64 << 10, 16 << 10);
    let drained = 0;
    w.on('drained', () => drained++);
    w.follow(true);
    while (w.bytes <= 32 << 10) w.write('stdout', line(1));
    expect(w.shouldHold).toBe(true);
    w.markShipped(w.bytes - (20 << 10));
    expect(w.shouldHold).toBe(true);
    expect(drained).toBe(0);
    w.markShipped(w.bytes - (10 << 10));
    expect(drained).toBe(1);
    expect(w.shouldHold).toBe(false);
  });

  it('never holds without a follower; a follower leaving releases', () => {
    const w = writer(64 << 10, 16 << 10);
    for (let i = 0; i < 2000; i++) w.write('stdout', line(i));
    expect(w.shouldHold).toBe(false);
    w.follow(true);
    expect(w.shouldHold).toBe(true);
    let drained = 0;
    w.on('drained', () => drained++);
    w.follow(false);
    expect(drained).toBe(1);
    expect(w.shouldHold).toBe(false);
  });
});
