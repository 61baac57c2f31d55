// Fuzzes the two stream transports untrusted clients talk to: SPDY/3.1 sessions (in memory,
// serving exec with a tty, or port-forward over an echo "pod") and WebSocket connections to the
// real streaming server (raw TCP on loopback, handshake by hand, then frames). Inputs are seeded random
// mutations of valid traffic, plain random bytes, and known-bad inputs that must end the
// session. Checks: no uncaught exception or unhandled rejection, memory stays bounded, and
// every known-bad input gets its session/connection closed.
//
// BULKHEAD_STREAM_FUZZ_INPUTS=n runs n inputs per transport (default 2000 SPDY, 600 WebSocket);
// BULKHEAD_STREAM_FUZZ_SEED=s replays a run.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import zlib from 'node:zlib';
import { randomBytes } from 'node:crypto';
import { Duplex, PassThrough } from 'node:stream';
import pino from 'pino';
import { SpdySession } from './spdy.js';
import {
  encodeData,
  encodeGoAway,
  encodeHeaderBlock,
  encodePing,
  encodeRstStream,
  encodeSettings,
  encodeSynReply,
  encodeSynStream,
  encodeWindowUpdate,
} from './spdy-frames.js';
import { HeaderCompressor } from './spdy-zlib.js';
import { SPDY3_HEADER_DICTIONARY } from './spdy-dictionary.js';
import { servePortForwardSpdy } from './portforward.js';
import { spdyCommandChannels } from './remotecommand-spdy.js';
import { runRemoteCommand } from './remotecommand.js';
import { StreamingServer } from './server.js';
import type { ProcessStdio, StreamingBackend } from './backend.js';

const envInputs = Number(process.env['BULKHEAD_STREAM_FUZZ_INPUTS'] ?? '');
const SPDY_INPUTS = envInputs > 0 ? envInputs : 2000;
const WS_INPUTS = envInputs > 0 ? envInputs : 600;
const SEED = Number(process.env['BULKHEAD_STREAM_FUZZ_SEED'] ?? '') || 0x5eed;
const log = pino({ level: 'silent' });

/** mulberry32: small, seedable, good enough to pick mutations. */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number): number => Math.floor(next() * n);
  const bytes = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => int(256)));
  return { next, int, bytes, pick: <T>(xs: readonly T[]): T => xs[int(xs.length)]! };
}
type Rng = ReturnType<typeof rng>;

/** Flips bits, overwrites, inserts, truncates, duplicates or stamps a huge length somewhere. */
function mutate(r: Rng, wire: Buffer): Buffer {
  let b = Buffer.from(wire);
  const rounds = 1 + r.int(4);
  for (let i = 0; i < rounds && b.length > 0; i++) {
    const at = r.int(b.length);
    switch (r.int(6)) {
      case 0:
        b[at] = b[at]! ^ (1 << r.int(8));
        break;
      case 1:
        r.bytes(Math.min(1 + r.int(16), b.length - at)).copy(b, at);
        break;
      case 2:
        b = Buffer.concat([b.subarray(0, at), r.bytes(1 + r.int(32)), b.subarray(at)]);
        break;
      case 3:
        b = b.subarray(0, at);
        break;
      case 4:
        b = Buffer.concat([b, b.subarray(at, at + 1 + r.int(256))]);
        break;
      case 5:
        if (at + 4 <= b.length) b.writeUInt32BE(r.pick([0xffffffff, 0x00ffffff, 0x7fffffff, 0x80000000, 0x01000000]), at);
        break;
    }
  }
  return b;
}

/** Splits bytes into 1..n random chunks, as TCP may. */
function chunks(r: Rng, b: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let off = 0; off < b.length; ) {
    const n = r.next() < 0.3 ? b.length - off : 1 + r.int(Math.max(1, Math.min(4096, b.length - off)));
    out.push(b.subarray(off, off + n));
    off += n;
  }
  return out;
}

let uncaught = 0;
const onUncaught = (e: unknown): void => {
  uncaught++;
  if (uncaught <= 3) console.error("uncaught in fuzz:", e);
};
beforeAll(() => {
  process.on('uncaughtException', onUncaught);
  process.on('unhandledRejection', onUncaught);
});
afterAll(() => {
  process.off('uncaughtException', onUncaught);
  process.off('unhandledRejection', onUncaught);
});

const memory = (): number => {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// SPDY

/** A plausible client session: port-forward stream pairs, data, pings, settings, window updates. */
function validSpdyTraffic(r: Rng): Buffer {
  const c = new HeaderCompressor();
  const frames: Buffer[] = [];
  const header = (h: Record<string, string[]>): Buffer => c.compress(encodeHeaderBlock(h));
  let id = 1;
  const n = 1 + r.int(6);
  for (let i = 0; i < n; i++) {
    switch (r.int(8)) {
      case 0:
      case 1: {
        const req = String(r.int(100));
        frames.push(encodeSynStream(id, header({ streamtype: ['error'], port: ['80'], requestid: [req] })));
        frames.push(encodeSynStream(id + 2, header({ streamtype: ['data'], port: ['80'], requestid: [req] })));
        frames.push(encodeData(id + 2, r.bytes(r.int(2048)), r.next() < 0.5));
        id += 4;
        break;
      }
      case 2:
        frames.push(encodeData(Math.max(1, id - 2), r.bytes(r.int(8192)), r.next() < 0.3));
        break;
      case 3:
        frames.push(encodePing(r.int(1000)));
        break;
      case 4:
        frames.push(encodeSettings([{ id: 7, value: r.int(1 << 20) }]));
        break;
      case 5:
        frames.push(encodeWindowUpdate(r.int(id), 1 + r.int(1 << 16)));
        break;
      case 6:
        frames.push(r.next() < 0.5 ? encodeRstStream(Math.max(1, id - 2), 5) : encodeSynReply(id, header({ a: ['b'] })));
        break;
      case 7:
        if (r.next() < 0.2) frames.push(encodeGoAway(id, 0));
        break;
    }
  }
  return Buffer.concat(frames);
}

/** A plausible exec session (tty, stdin): error, stdin, stdout and resize streams, then stdin data and resizes. */
function validExecTraffic(r: Rng): Buffer {
  const c = new HeaderCompressor();
  const frames: Buffer[] = [];
  ['error', 'stdin', 'stdout', 'resize'].forEach((t, i) => frames.push(encodeSynStream(2 * i + 1, c.compress(encodeHeaderBlock({ streamtype: [t] })))));
  const n = r.int(6);
  for (let i = 0; i < n; i++) {
    if (r.next() < 0.6) frames.push(encodeData(3, r.bytes(r.int(4096)), false));
    else frames.push(encodeData(7, Buffer.from(`${JSON.stringify({ Width: r.int(300), Height: r.int(100) })}\n`), false));
  }
  if (r.next() < 0.5) frames.push(encodeData(3, Buffer.alloc(0), true));
  return Buffer.concat(frames);
}

/** Inputs that must close the session, whatever else they carry. */
function knownBadSpdy(r: Rng, bomb: Buffer): Buffer {
  switch (r.int(5)) {
    case 0: {
      const f = encodePing(1);
      f.writeUInt16BE(0x8000 | (4 + r.int(100)), 0); // another SPDY version
      return f;
    }
    case 1:
      return encodeSynStream(1, r.bytes(1 + r.int(64))); // not zlib
    case 2: {
      const head = encodeSettings([]).subarray(0, 8);
      head.writeUInt32BE(0x00ffffff, 4); // 16 MiB control frame
      return Buffer.concat([head, r.bytes(r.int(1024))]);
    }
    case 3:
      return encodeSynStream(1, bomb); // inflates past the cap
    default: {
      // More header pairs than allowed, in a valid zlib stream.
      const pairs: Record<string, string[]> = {};
      for (let i = 0; i < 100 + r.int(200); i++) pairs[`h${i}`] = ['v'];
      return encodeSynStream(1, new HeaderCompressor().compress(encodeHeaderBlock(pairs)));
    }
  }
}

/** Exec sessions whose streams all arrived and reached the process: the fuzz gets that far. */
let execsStarted = 0;

interface SpdyCase {
  session: SpdySession;
  closed: () => boolean;
  mustClose: boolean;
}

function runSpdyInput(r: Rng, wire: Buffer, mustClose: boolean, exec: boolean): SpdyCase {
  const toServer = new PassThrough();
  const toClient = new PassThrough();
  toClient.resume(); // a client that reads everything we send
  const session = new SpdySession(Duplex.from({ readable: toServer, writable: toClient }), log);
  let closed = false;
  session.once('close', () => (closed = true));
  if (exec) {
    // The real consumer: exec with a tty, stdin drained by a "process" that runs until killed.
    spdyCommandChannels(session, 'v4.channel.k8s.io', { tty: true, stdin: true, stdout: true, stderr: false }).then(
      (ch) => {
        execsStarted++;
        return runRemoteCommand(ch, () => Promise.resolve(sinkProcess()), { kind: 'exec', cmd: ['sh'] }, log);
      },
      () => undefined,
    );
  } else {
    // The real consumer: port-forward pairs streams and pipes them to an echo "pod" connection.
    servePortForwardSpdy(session, () => Promise.resolve(new PassThrough()), 'fuzz-pod', log);
  }
  for (const c of chunks(r, wire)) toServer.write(c);
  return { session, closed: () => closed, mustClose };
}

describe('stream fuzzing', () => {
  it(`SPDY: ${SPDY_INPUTS} seeded inputs (seed ${SEED}) never throw, stay bounded, and bad input closes the session`, async () => {
    const r = rng(SEED);
    // 4 MiB of zeros deflates to ~4 KiB; inflated it is 16× the header-block cap.
    const bomb = zlib.deflateSync(Buffer.alloc(4 * 1024 * 1024), { dictionary: SPDY3_HEADER_DICTIONARY, finishFlush: zlib.constants.Z_SYNC_FLUSH });
    const started = performance.now();
    const base = memory();
    let peak = 0;
    let mustClose = 0;
    const BATCH = 100;
    for (let done = 0; done < SPDY_INPUTS; done += BATCH) {
      const cases: SpdyCase[] = [];
      for (let i = 0; i < Math.min(BATCH, SPDY_INPUTS - done); i++) {
        const exec = r.next() < 0.5;
        const valid = (): Buffer => (exec ? validExecTraffic(r) : validSpdyTraffic(r));
        const kind = r.int(10);
        if (kind < 2) cases.push(runSpdyInput(r, valid(), false, exec));
        else if (kind < 7) cases.push(runSpdyInput(r, mutate(r, valid()), false, exec));
        else if (kind < 8) cases.push(runSpdyInput(r, r.bytes(1 + r.int(4096)), false, exec));
        else {
          // Valid traffic, then something that must end it.
          cases.push(runSpdyInput(r, Buffer.concat([valid(), knownBadSpdy(r, bomb)]), true, exec));
          mustClose++;
        }
      }
      // Header inflation runs on the thread pool: give every session time to get through its input.
      for (let i = 0; i < 400 && cases.some((c) => c.mustClose && !c.closed()); i++) await sleep(5);
      await sleep(5);
      peak = Math.max(peak, memory() - base);
      for (const c of cases) if (c.mustClose) expect(c.closed(), 'known-bad input left the session open').toBe(true);
      for (const c of cases) c.session.close();
    }
    const elapsed = performance.now() - started;
    console.log(`spdy fuzz: ${SPDY_INPUTS} inputs (${mustClose} known-bad, ${execsStarted} exec sessions started) in ${elapsed.toFixed(0)} ms, peak +${(peak / 2 ** 20).toFixed(1)} MiB`);
    expect(uncaught).toBe(0);
    expect(execsStarted).toBeGreaterThan(SPDY_INPUTS / 20);
    // 100 live sessions, each holding at most a few 64 KiB buffers and one zlib context.
    expect(peak).toBeLessThan(256 * 1024 * 1024);
  }, 120_000);

  it(`WebSocket: ${WS_INPUTS} seeded connections (seed ${SEED}) never throw, stay bounded, and bad frames close the connection`, async () => {
    const r = rng(SEED + 1);
    const server = new StreamingServer({ address: '127.0.0.1', port: 0, tokenTtlSeconds: 60, backend: sinkBackend(), log });
    await server.start();
    const started = performance.now();
    const base = memory();
    let peak = 0;
    let mustClose = 0;
    let handshakes = 0;
    const BATCH = 40;
    try {
      for (let done = 0; done < WS_INPUTS; done += BATCH) {
        const cases = await Promise.all(
          Array.from({ length: Math.min(BATCH, WS_INPUTS - done) }, async () => {
            const target = r.pick(WS_TARGETS);
            const bad = r.next() < 0.25;
            const frames = validWsTraffic(r, target.protocol);
            const wire = bad ? Buffer.concat([frames, knownBadWsFrame(r)]) : r.next() < 0.7 ? mutate(r, frames) : frames;
            const parts = chunks(r, wire);
            const conn = await wsConnect(server.register(target.request), target.protocol);
            if (!conn) return undefined;
            handshakes++;
            for (const c of parts) conn.socket.write(c);
            return { conn, bad };
          }),
        );
        for (let i = 0; i < 400 && cases.some((c) => c?.bad && !c.conn.ended()); i++) await sleep(5);
        peak = Math.max(peak, memory() - base);
        for (const c of cases) {
          if (c?.bad) {
            mustClose++;
            expect(c.conn.ended(), 'known-bad frame left the connection open').toBe(true);
          }
          c?.conn.socket.destroy();
        }
      }
    } finally {
      await server.close();
    }
    const elapsed = performance.now() - started;
    console.log(`websocket fuzz: ${WS_INPUTS} connections (${handshakes} upgraded, ${mustClose} known-bad) in ${elapsed.toFixed(0)} ms, peak +${(peak / 2 ** 20).toFixed(1)} MiB`);
    expect(handshakes).toBe(WS_INPUTS);
    expect(uncaught).toBe(0);
    expect(peak).toBeLessThan(256 * 1024 * 1024);
  }, 120_000);
});

// ---------------------------------------------------------------------------------------------
// WebSocket

/** exec whose stdin is drained and that runs until killed; port-forward to an echo connection. */
function sinkProcess(): ProcessStdio {
  let kill: () => void = () => undefined;
  const done = new Promise<{ exitCode?: number }>((res) => (kill = () => res({ exitCode: 137 })));
  const stdin = new PassThrough();
  stdin.resume();
  return { stdin, stdout: new PassThrough(), resize: () => undefined, wait: () => done, kill: () => kill() };
}

function sinkBackend(): StreamingBackend {
  return {
    exec: () => Promise.resolve(sinkProcess()),
    attach: () => Promise.resolve(sinkProcess()),
    portForward: () => Promise.resolve(new PassThrough()),
  };
}

type Target = { protocol: string; request: Parameters<StreamingServer['register']>[0] };
const EXEC = { kind: 'exec' as const, containerId: 'c', cmd: ['cat'], tty: false, stdin: true, stdout: true, stderr: true };
const WS_TARGETS: Target[] = [
  { protocol: 'v5.channel.k8s.io', request: EXEC },
  { protocol: 'v4.channel.k8s.io', request: EXEC },
  { protocol: 'v4.base64.channel.k8s.io', request: EXEC },
  { protocol: 'channel.k8s.io', request: { ...EXEC, tty: true } },
  { protocol: 'v4.channel.k8s.io', request: { kind: 'portforward', podSandboxId: 'p', ports: [80] } },
  { protocol: 'SPDY/3.1+portforward.k8s.io', request: { kind: 'portforward', podSandboxId: 'p', ports: [80] } },
];

/** One client frame: masked, as RFC 6455 requires of clients. */
function wsFrame(opcode: number, payload: Buffer, opts: { fin?: boolean; rsv?: number; masked?: boolean; declaredLength?: number } = {}): Buffer {
  const len = opts.declaredLength ?? payload.length;
  const head: number[] = [((opts.fin ?? true) ? 0x80 : 0) | ((opts.rsv ?? 0) << 4) | opcode];
  const maskBit = (opts.masked ?? true) ? 0x80 : 0;
  let ext = Buffer.alloc(0);
  if (len < 126) head.push(maskBit | len);
  else if (len < 65536) {
    head.push(maskBit | 126);
    ext = Buffer.alloc(2);
    ext.writeUInt16BE(len, 0);
  } else {
    head.push(maskBit | 127);
    ext = Buffer.alloc(8);
    ext.writeBigUInt64BE(BigInt(len), 0);
  }
  if (!(opts.masked ?? true)) return Buffer.concat([Buffer.from(head), ext, payload]);
  const key = randomBytes(4);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i] = body[i]! ^ key[i & 3]!;
  return Buffer.concat([Buffer.from(head), ext, key, body]);
}

function validWsTraffic(r: Rng, protocol: string): Buffer {
  const frames: Buffer[] = [];
  const base64 = protocol.includes('base64');
  const channelMessage = (ch: number, data: Buffer): Buffer =>
    base64 ? wsFrame(1, Buffer.from(String.fromCharCode(48 + ch) + data.toString('base64'))) : wsFrame(2, Buffer.concat([Buffer.from([ch]), data]));
  const n = 1 + r.int(6);
  for (let i = 0; i < n; i++) {
    if (protocol.startsWith('SPDY/')) {
      frames.push(wsFrame(2, validSpdyTraffic(r)));
      continue;
    }
    switch (r.int(6)) {
      case 0:
      case 1:
        frames.push(channelMessage(0, r.bytes(r.int(4096))));
        break;
      case 2:
        frames.push(channelMessage(4, Buffer.from(JSON.stringify({ Width: r.int(300), Height: r.int(100) }))));
        break;
      case 3:
        frames.push(wsFrame(9, r.bytes(r.int(125))));
        break;
      case 4: {
        // A message in two fragments.
        const data = Buffer.concat([Buffer.from([0]), r.bytes(r.int(2048))]);
        const cut = r.int(data.length);
        frames.push(wsFrame(2, data.subarray(0, cut), { fin: false }), wsFrame(0, data.subarray(cut)));
        break;
      }
      case 5:
        if (protocol === 'v5.channel.k8s.io') frames.push(wsFrame(2, Buffer.from([255, 0])));
        break;
    }
  }
  return Buffer.concat(frames);
}

/** Frames RFC 6455 (or our 1 MiB message limit) says end the connection. */
function knownBadWsFrame(r: Rng): Buffer {
  switch (r.int(7)) {
    case 0:
      return wsFrame(2, r.bytes(16), { masked: false });
    case 1:
      return wsFrame(2, r.bytes(16), { rsv: 1 + r.int(7) }); // no extension negotiated
    case 2:
      return wsFrame(3 + r.int(5), r.bytes(8)); // reserved data opcodes
    case 3:
      return wsFrame(2, r.bytes(64), { declaredLength: r.pick([2 * 1024 * 1024, 2 ** 32, 2 ** 40]) }); // over maxPayload
    case 4:
      return wsFrame(9, r.bytes(8), { fin: false }); // fragmented control frame
    case 5:
      return wsFrame(0, r.bytes(8)); // continuation with nothing to continue
    default:
      return wsFrame(1, Buffer.from([0x30, 0xff, 0xfe, 0xc0])); // text that is not UTF-8
  }
}

/** Raw TCP WebSocket handshake; resolves once the 101 is read (undefined if refused). */
function wsConnect(url: string, protocol: string): Promise<{ socket: net.Socket; ended: () => boolean } | undefined> {
  const u = new URL(url);
  return new Promise((resolve) => {
    const socket = net.connect(Number(u.port), u.hostname);
    let ended = false;
    let head = '';
    socket.on('error', () => undefined);
    socket.once('close', () => (ended = true));
    socket.once('end', () => (ended = true));
    const onData = (d: Buffer): void => {
      head += d.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      socket.resume(); // discard whatever the server sends from here on
      if (!head.startsWith('HTTP/1.1 101')) {
        socket.destroy();
        return resolve(undefined);
      }
      resolve({ socket, ended: () => ended });
    };
    socket.on('data', onData);
    socket.write(
      `GET ${u.pathname} HTTP/1.1\r\nHost: ${u.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ${protocol}\r\n\r\n`,
    );
  });
}
