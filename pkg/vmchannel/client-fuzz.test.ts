// Hostile-input fuzzer for the host side of the agent channel: a fake guest answers Hello, lets the host
// open a unary call and a log stream, then sends a seeded random mutation of a valid frame sequence
// (bit flips, truncation, length lies, kind and stream swaps, garbage, empty DATA, window floods) and
// hangs up. Every input must end as a channel close: 'disconnect' with a GuestProtocolError for a
// violation (always for the inputs built to violate), null for valid bytes or a frame merely cut short
// by the hang-up (which only QEMU's exit can do); every call settled, no exception escaping, memory bounded.
// BULKHEAD_AGENT_FUZZ_INPUTS (default 3000) and BULKHEAD_AGENT_FUZZ_SEED pick the run.
import { describe, expect, it } from 'vitest';
import { createServer, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { AgentClient, GuestProtocolError } from './client.js';
import { FrameDecoder, FrameKind, encodeFrame, encodeData, HEADER_BYTES, MAX_GUEST_PAYLOAD } from './frame.js';
import { DEFAULT_WINDOW, encodeWindow } from './flow.js';
import { EventCodec, ExitStatusCodec, RequestCodec, ResponseCodec } from './codec.js';

const INPUTS = Number(process.env.BULKHEAD_AGENT_FUZZ_INPUTS ?? 3000);
const SEED = Number(process.env.BULKHEAD_AGENT_FUZZ_SEED ?? 0x5eed);

/** mulberry32: small, seedable, good enough to pick mutations. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Streams {
  unary: number;
  follow: number;
}

interface FuzzInput {
  bytes: Buffer;
  /** The host pauses the log stream first (its consumer is full): one window is all the guest may send. */
  paused: boolean;
  /** The input breaks the protocol for sure: it must end in a GuestProtocolError. */
  mustViolate: boolean;
  /** Unmutated: it must end cleanly. */
  valid: boolean;
  what: string;
}

function generate(r: () => number, ids: Streams): FuzzInput {
  const int = (n: number): number => Math.floor(r() * n);
  const bytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => int(256)));
  const frames: Buffer[] = [];
  if (r() < 0.8) frames.push(encodeFrame(ids.unary, FrameKind.Response, ResponseCodec.encode(r() < 0.5 ? { ping: { kernel_release: '6.1', mem_total_bytes: '1' } } : { error: 'no', code: 5 })));
  frames.push(encodeFrame(ids.follow, FrameKind.Response, ResponseCodec.encode({ empty: {} })));
  for (let i = int(6); i > 0; i--) {
    const k = int(3);
    if (k === 0) frames.push(encodeFrame(ids.follow, FrameKind.Data, encodeData(1 + int(2), bytes(int(300)))));
    else if (k === 1) frames.push(encodeFrame(0, FrameKind.Event, EventCodec.encode(r() < 0.5 ? { oom: { container_id: 'c', at_ns: '1' } } : { exit: { container_id: 'c', exec_id: '', status: { exit_code: int(256), reason: 'Error', finished_at_ns: '2', signal: 0 } } })));
    else frames.push(encodeFrame(ids.follow, FrameKind.Data, encodeData(1, Buffer.alloc(0))));
  }
  const closing = r() < 0.5 ? [encodeFrame(ids.follow, FrameKind.Close, r() < 0.5 ? ExitStatusCodec.encode({ exit_code: 0, reason: 'Completed', finished_at_ns: '3', signal: 0 }) : undefined)] : [];
  const paused = r() < 0.3;
  const valid = (): FuzzInput => ({ bytes: Buffer.concat([...frames, ...closing]), paused, mustViolate: false, valid: true, what: 'valid' });
  const violating = (what: string, bad: Buffer): FuzzInput => ({ bytes: Buffer.concat([...frames, bad, ...closing]), paused, mustViolate: true, valid: false, what });
  const m = int(13);
  switch (m) {
    case 0:
      return valid();
    case 1: {
      const h = Buffer.alloc(HEADER_BYTES);
      h.writeUInt32BE(MAX_GUEST_PAYLOAD + 1 + int(0x7fffffff), 0);
      h.writeUInt32BE(ids.follow, 4);
      h.writeUInt8(FrameKind.Data, 8);
      return violating('huge length', h);
    }
    case 2: {
      const k = r() < 0.5 ? 0 : 7 + int(249);
      return violating('bad kind', Buffer.concat([Buffer.from([0, 0, 0, 1]), Buffer.alloc(4), Buffer.from([k, 0])]));
    }
    case 3:
      return violating('empty DATA', encodeFrame(ids.follow, FrameKind.Data));
    case 4:
      return violating('junk EVENT', encodeFrame(0, FrameKind.Event, Buffer.concat([Buffer.from([0x0f]), bytes(int(20))])));
    case 5:
      return violating('unasked WINDOW', encodeFrame(ids.follow, FrameKind.Window, encodeWindow(1 + int(1 << 20))));
    case 6: {
      if (!paused) return valid();
      const flood: Buffer[] = [];
      for (let n = 0; n <= DEFAULT_WINDOW; n += 32 << 10) flood.push(encodeFrame(ids.follow, FrameKind.Data, encodeData(1, Buffer.alloc(32 << 10))));
      return violating('window overrun', Buffer.concat(flood));
    }
    default: {
      // Random mutations of the whole sequence: may or may not stay valid.
      let b = Buffer.concat([...frames, ...closing]);
      for (let n = 1 + int(3); n > 0; n--) {
        const op = int(6);
        if (op === 0 && b.length) {
          b = Buffer.from(b);
          b[int(b.length)]! ^= 1 << int(8);
        } else if (op === 1) b = b.subarray(0, int(b.length + 1));
        else if (op === 2 && b.length >= HEADER_BYTES) {
          b = Buffer.from(b);
          b.writeUInt32BE([0, 1, int(1 << 16), int(0xffffffff), MAX_GUEST_PAYLOAD][int(5)]! >>> 0, 0);
        } else if (op === 3 && b.length >= HEADER_BYTES) {
          b = Buffer.from(b);
          b[8] = int(256);
        } else if (op === 4 && b.length >= HEADER_BYTES) {
          b = Buffer.from(b);
          b.writeUInt32BE([0, ids.unary, ids.follow, int(0x100000000)][int(4)]! >>> 0, 4);
        } else {
          const at = int(b.length + 1);
          b = Buffer.concat([b.subarray(0, at), bytes(1 + int(40)), b.subarray(at)]);
        }
      }
      return { bytes: b, paused, mustViolate: false, valid: false, what: 'mutated' };
    }
  }
}

describe('agent channel fuzz (hostile guest)', () => {
  it(`survives ${INPUTS} hostile inputs; each ends as a channel close`, { timeout: 120_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bh-vmchannel-fuzz-'));
    const path = join(dir, 'agent.sock');
    const r = rng(SEED);
    const uncaught: unknown[] = [];
    const onUncaught = (e: unknown): void => void uncaught.push(e);
    process.on('uncaughtException', onUncaught);
    process.on('unhandledRejection', onUncaught);
    // The fake guest: answers Hello, waits for the two requests, then sends the input and hangs up.
    let nextInput: (ids: Streams) => FuzzInput = () => {
      throw new Error('no input');
    };
    const server = createServer((s: Socket) => {
      const dec = new FrameDecoder();
      const ids: number[] = [];
      s.on('error', () => undefined);
      s.on('data', (b: Buffer) => {
        for (const f of dec.push(b)) {
          if (f.kind !== FrameKind.Request) continue;
          const req = RequestCodec.decode(f.payload);
          if (req.hello) s.write(encodeFrame(f.stream, FrameKind.Response, ResponseCodec.encode({ hello: { nonce: req.hello.nonce, agent_version: 'fuzz', window: DEFAULT_WINDOW } })));
          else if (ids.push(f.stream) === 2) s.end(nextInput({ unary: ids[0]!, follow: ids[1]! }).bytes);
        }
      });
    });
    server.listen(path);
    await once(server, 'listening');
    const heapBefore = process.memoryUsage().heapUsed;
    let maxHeap = heapBefore;
    const outcomes = new Map<string, number>();
    const t0 = performance.now();
    try {
      for (let i = 0; i < INPUTS; i++) {
        const client = new AgentClient(path);
        await client.connect({ timeoutMs: 5000 });
        const disconnected = new Promise<Error | null>((res) => client.once('disconnect', res));
        let input: FuzzInput | undefined;
        let pausedNow = false;
        const paused = new Promise<void>((res) => {
          nextInput = (ids) => {
            input = generate(r, ids);
            if (input.paused) follow.pause();
            pausedNow = true;
            res();
            return input;
          };
        });
        let settled = 0;
        const unary = client.call('ping', {}).then(
          () => settled++,
          () => settled++,
        );
        const follow = client.openStream('follow_logs', { container_id: 'c', offset: '0' }, { onData: () => undefined, onClose: () => undefined });
        let lostMidFrame = false;
        const followDone = follow.response.then(
          () => settled++,
          (e: Error) => {
            lostMidFrame = /middle of a frame/.test(e.message);
            settled++;
          },
        );
        await paused;
        const why = await Promise.race([disconnected, new Promise<'hung'>((res) => setTimeout(() => res('hung'), 5000))]);
        const label = `#${i} ${input!.what} (${input!.bytes.length} B, paused ${input!.paused}): ${why === 'hung' ? 'hung' : why?.message ?? 'clean close'}`;
        expect(uncaught.map((e) => String(e)), `${label}: exceptions escaped to the process`).toEqual([]);
        expect(why, label).not.toBe('hung');
        expect(why === null || why instanceof GuestProtocolError, label).toBe(true);
        if (input!.valid) expect(why, label).toBeNull();
        if (input!.mustViolate) expect(why, label).toBeInstanceOf(GuestProtocolError);
        await Promise.all([unary, followDone]);
        expect(settled, label).toBe(2);
        expect(client.connected).toBe(false);
        expect(pausedNow).toBe(true);
        const kind = why === null ? (lostMidFrame ? 'closed mid-frame' : 'clean close') : (why as Error).message.replace(/^guest agent protocol violation: /, '').replace(/[\d]+/g, 'N').slice(0, 40);
        outcomes.set(kind, (outcomes.get(kind) ?? 0) + 1);
        if (i % 500 === 0) maxHeap = Math.max(maxHeap, process.memoryUsage().heapUsed);
      }
    } finally {
      process.off('uncaughtException', onUncaught);
      process.off('unhandledRejection', onUncaught);
      server.close();
      rmSync(dir, { recursive: true, force: true });
    }
    const secs = (performance.now() - t0) / 1000;
    console.log(`agent channel fuzz: ${INPUTS} inputs (seed ${SEED}) in ${secs.toFixed(1)} s; outcomes: ${JSON.stringify(Object.fromEntries([...outcomes].sort((a, b) => b[1] - a[1])))}`);
    expect(uncaught).toEqual([]);
    // One connection at a time, at most one frame (1 MiB) buffered: growth is garbage not yet collected.
    expect(maxHeap - heapBefore).toBeLessThan(128 << 20);
  });
});
