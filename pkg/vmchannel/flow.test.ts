import { describe, expect, it } from 'vitest';
import { RecvWindow, SendWindow } from './flow.js';

describe('SendWindow', () => {
  it('sends within the credit, queues the rest, flushes on grant, then drains', () => {
    const sent: number[] = [];
    const w = new SendWindow(10, (_fd, b) => sent.push(b.length));
    expect(w.write(1, Buffer.alloc(6))).toBe(true);
    expect(w.write(1, Buffer.alloc(6))).toBe(false);
    expect(sent).toEqual([6, 4]);
    expect(w.backlog).toBe(2);
    let drained = false;
    w.onDrain(() => (drained = true));
    w.grant(1);
    expect(drained).toBe(false);
    w.grant(5);
    expect(sent).toEqual([6, 4, 1, 1]);
    expect(drained).toBe(true);
    expect(w.write(2, Buffer.alloc(4))).toBe(true);
  });

  it('is unlimited with window 0 (peer without flow control) and passes empty frames', () => {
    const sent: number[] = [];
    const w = new SendWindow(0, (_fd, b) => sent.push(b.length));
    expect(w.write(1, Buffer.alloc(10 << 20))).toBe(true);
    expect(w.write(0, Buffer.alloc(0))).toBe(true);
    expect(sent).toEqual([10 << 20, 0]);
  });

  it('keeps an empty frame behind queued bytes', () => {
    const sent: number[] = [];
    const w = new SendWindow(2, (_fd, b) => sent.push(b.length));
    w.write(0, Buffer.alloc(3));
    w.write(0, Buffer.alloc(0));
    expect(sent).toEqual([2]);
    w.grant(1);
    expect(sent).toEqual([2, 1, 0]);
  });
});

describe('RecvWindow', () => {
  it('acknowledges in quarter windows, holds credit while paused', () => {
    const acks: number[] = [];
    const r = new RecvWindow(100, (n) => acks.push(n));
    r.consumed(10);
    r.consumed(20);
    expect(acks).toEqual([30]);
    r.pause();
    r.consumed(50);
    expect(acks).toEqual([30]);
    r.resume();
    expect(acks).toEqual([30, 50]);
  });

  it('never acknowledges with window 0', () => {
    const acks: number[] = [];
    const r = new RecvWindow(0, (n) => acks.push(n));
    r.consumed(1 << 20);
    expect(acks).toEqual([]);
  });
});

describe('SendWindow + RecvWindow', () => {
  it('a stalled consumer bounds what is in flight to one window', () => {
    let inFlight = 0;
    let maxInFlight = 0;
    const recv = new RecvWindow(64, (n) => send.grant(n));
    const send = new SendWindow(64, (_fd, b) => {
      inFlight += b.length;
      maxInFlight = Math.max(maxInFlight, inFlight);
      recv.consumed(b.length);
      inFlight -= b.length;
    });
    recv.pause();
    for (let i = 0; i < 100; i++) send.write(1, Buffer.alloc(10));
    expect(send.backlog).toBe(1000 - 64);
    recv.resume();
    expect(send.backlog).toBe(0);
    expect(maxInFlight).toBeLessThanOrEqual(64);
  });
});

describe('window enforcement', () => {
  it('RecvWindow.received refuses DATA beyond the credit granted, and counts acknowledged credit', () => {
    const acks: number[] = [];
    const r = new RecvWindow(100, (n) => acks.push(n));
    r.pause();
    expect(r.received(60)).toBe(true);
    r.consumed(60);
    expect(r.received(40)).toBe(true);
    r.consumed(40);
    expect(r.received(1)).toBe(false);
    expect(r.credit).toBe(0);
    r.resume();
    expect(acks).toEqual([100]);
    expect(r.credit).toBe(100);
    expect(r.received(100)).toBe(true);
  });

  it('SendWindow.canGrant refuses credit for bytes never sent', () => {
    const w = new SendWindow(10, () => undefined);
    expect(w.canGrant(1)).toBe(false);
    w.write(1, Buffer.alloc(4));
    expect(w.canGrant(4)).toBe(true);
    expect(w.canGrant(5)).toBe(false);
    expect(new SendWindow(0, () => undefined).canGrant(1 << 30)).toBe(true);
  });
});
