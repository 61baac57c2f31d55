// A hostile guest on the agent channel: every protocol violation must end as the AgentClient closing
// the channel with a reason ('disconnect' with a GuestProtocolError, pending calls failed), never as an
// exception in the socket handler (which would take bulkheadd down).
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type Server, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { AgentClient, GuestProtocolError, MAX_PEER_WINDOW } from './client.js';
import { FrameDecoder, FrameKind, encodeFrame, encodeData, HEADER_BYTES, MAX_GUEST_PAYLOAD } from './frame.js';
import { DEFAULT_WINDOW, encodeWindow } from './flow.js';
import { Code, EventCodec, ExitStatusCodec, RequestCodec, ResponseCodec, type Request__Output } from './codec.js';

interface FakeGuest {
  client: AgentClient;
  /** The guest end of the channel. */
  guest: Socket;
  /** Resolves with the next request the host sent (after Hello). */
  nextRequest(): Promise<{ stream: number; req: Request__Output }>;
  /** Resolves with the reason of the client's 'disconnect'. */
  disconnected: Promise<Error | null>;
}

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

/** An AgentClient connected (Hello done) to a guest end the test writes raw bytes into. */
async function fakeGuest(helloWindow = DEFAULT_WINDOW, features: string[] = []): Promise<FakeGuest> {
  const dir = mkdtempSync(join(tmpdir(), 'bh-vmchannel-'));
  const path = join(dir, 'agent.sock');
  const requests: { stream: number; req: Request__Output }[] = [];
  const waiters: ((r: { stream: number; req: Request__Output }) => void)[] = [];
  let guest: Socket | undefined;
  const server: Server = createServer((s) => {
    guest = s;
    const dec = new FrameDecoder();
    s.on('error', () => undefined);
    s.on('data', (b: Buffer) => {
      for (const f of dec.push(b)) {
        if (f.kind !== FrameKind.Request) continue;
        const req = RequestCodec.decode(f.payload);
        if (req.hello) {
          s.write(encodeFrame(f.stream, FrameKind.Response, ResponseCodec.encode({ hello: { nonce: req.hello.nonce, agent_version: 'test', window: helloWindow, features } })));
          continue;
        }
        const w = waiters.shift();
        if (w) w({ stream: f.stream, req });
        else requests.push({ stream: f.stream, req });
      }
    });
  });
  server.listen(path);
  await once(server, 'listening');
  const client = new AgentClient(path);
  const disconnected = new Promise<Error | null>((r) => client.once('disconnect', r));
  await client.connect({ timeoutMs: 5000 });
  cleanups.push(() => {
    client.close();
    guest?.destroy();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    client,
    guest: guest!,
    disconnected,
    nextRequest: () => new Promise((r) => (requests.length ? r(requests.shift()!) : waiters.push(r))),
  };
}

/** Opens a log-follow stream and answers it, so the guest may send DATA on it. */
async function openFollow(g: FakeGuest, onData: (fd: number, b: Buffer) => void = () => undefined): Promise<{ stream: number; response: Promise<unknown> }> {
  const s = g.client.openStream('follow_logs', { container_id: 'c1', offset: '0' }, { onData });
  const { stream } = await g.nextRequest();
  g.guest.write(encodeFrame(stream, FrameKind.Response, ResponseCodec.encode({ empty: {} })));
  await s.response;
  return { stream, response: s.response };
}

/** Waits (polling, up to 5 s) until cond holds: socket delivery takes a while on a loaded machine. */
async function until(cond: () => boolean): Promise<void> {
  for (const t0 = Date.now(); !cond(); ) {
    if (Date.now() - t0 > 5000) throw new Error('condition not met in 5 s');
    await new Promise((r) => setTimeout(r, 5));
  }
}

async function expectViolation(g: FakeGuest, pending: Promise<unknown>, pattern: RegExp): Promise<void> {
  const why = await g.disconnected;
  expect(why).toBeInstanceOf(GuestProtocolError);
  expect(why!.message).toMatch(pattern);
  await expect(pending).rejects.toThrow(pattern);
  expect(g.client.connected).toBe(false);
}

describe('AgentClient with a hostile guest', () => {
  it('knows the features the agent named in its Hello; an older agent names none', async () => {
    expect((await fakeGuest()).client.supports('ephemeral_volumes')).toBe(false);
    expect((await fakeGuest(DEFAULT_WINDOW, ['ephemeral_volumes'])).client.supports('ephemeral_volumes')).toBe(true);
  });

  it('an empty DATA frame (no fd byte) closes the channel', async () => {
    const g = await fakeGuest();
    const { stream } = await openFollow(g);
    const pending = g.client.call('ping', {});
    g.guest.write(encodeFrame(stream, FrameKind.Data));
    await expectViolation(g, pending, /empty DATA frame/);
  });

  it('a junk EVENT frame closes the channel', async () => {
    const g = await fakeGuest();
    const pending = g.client.call('ping', {});
    // field 1 with wire type 7: not protobuf
    g.guest.write(encodeFrame(0, FrameKind.Event, Buffer.from([0x0f, 0xff, 0xff])));
    await expectViolation(g, pending, /undecodable EVENT/);
  });

  it('a junk RESPONSE and a junk CLOSE exit status close the channel', async () => {
    const g = await fakeGuest();
    const pending = g.client.call('ping', {});
    const { stream } = await g.nextRequest();
    g.guest.write(encodeFrame(stream, FrameKind.Response, Buffer.from([0x12, 0x80])));
    await expectViolation(g, pending, /undecodable RESPONSE/);

    const h = await fakeGuest();
    const { stream: s2 } = await openFollow(h);
    const other = h.client.call('ping', {});
    h.guest.write(encodeFrame(s2, FrameKind.Close, Buffer.from([0x0f])));
    await expectViolation(h, other, /undecodable CLOSE/);
  });

  it('random garbage after the handshake closes the channel', async () => {
    const g = await fakeGuest();
    const pending = g.client.call('ping', {});
    g.guest.write(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    await expectViolation(g, pending, /bad frame header/);
  });

  it('a huge declared length closes the channel at the header, without buffering', async () => {
    const g = await fakeGuest();
    const pending = g.client.call('ping', {});
    const header = Buffer.alloc(HEADER_BYTES);
    header.writeUInt32BE(MAX_GUEST_PAYLOAD + 1, 0);
    header.writeUInt32BE(0, 4);
    header.writeUInt8(FrameKind.Event, 8);
    g.guest.write(header);
    await expectViolation(g, pending, /bad frame header \(length 1048577/);
  });

  it('a frame cut short by the channel closing (QEMU exiting mid-write) fails the calls saying so', async () => {
    const g = await fakeGuest();
    const { stream } = await openFollow(g);
    const pending = g.client.call('ping', {});
    g.guest.end(encodeFrame(stream, FrameKind.Data, encodeData(1, Buffer.alloc(100))).subarray(0, 50));
    expect(await g.disconnected).toBeNull();
    await expect(pending).rejects.toThrow(/agent connection lost in the middle of a frame \(50 bytes buffered\)/);
  });

  it('a frame the guest never finishes holds at most that frame and breaks nothing else', async () => {
    const g = await fakeGuest();
    const { stream } = await openFollow(g);
    g.guest.write(encodeFrame(stream, FrameKind.Data, encodeData(1, Buffer.alloc(1000))).subarray(0, 500));
    await expect(g.client.call('ping', {}, { timeoutMs: 100 })).rejects.toThrow(/timed out/);
    expect(g.client.connected).toBe(true);
  });

  it('DATA beyond the window the host granted closes the channel', async () => {
    const g = await fakeGuest();
    let got = 0;
    const s = g.client.openStream('follow_logs', { container_id: 'c1', offset: '0' }, { onData: (_fd, b) => (got += b.length) });
    const { stream } = await g.nextRequest();
    g.guest.write(encodeFrame(stream, FrameKind.Response, ResponseCodec.encode({ empty: {} })));
    await s.response;
    // The consumer is full: the host acknowledges nothing, so one window is all the guest may send.
    s.pause();
    const pending = g.client.call('ping', {});
    const frames = [];
    for (let sent = 0; sent < DEFAULT_WINDOW; sent += 64 << 10) frames.push(encodeFrame(stream, FrameKind.Data, encodeData(1, Buffer.alloc(64 << 10))));
    frames.push(encodeFrame(stream, FrameKind.Data, encodeData(1, Buffer.alloc(1))));
    g.guest.write(Buffer.concat(frames));
    await expectViolation(g, pending, /window overrun on stream \d+: 1 DATA bytes with 0 bytes of credit left/);
    expect(got).toBe(DEFAULT_WINDOW);
  });

  it('a paused stream holds the guest to one window; credit returned on resume is honoured', async () => {
    const g = await fakeGuest();
    let got = 0;
    const s = g.client.openStream('follow_logs', { container_id: 'c1', offset: '0' }, { onData: (_fd, b) => (got += b.length) });
    const { stream } = await g.nextRequest();
    g.guest.write(encodeFrame(stream, FrameKind.Response, ResponseCodec.encode({ empty: {} })));
    await s.response;
    s.pause();
    const frame = encodeFrame(stream, FrameKind.Data, encodeData(1, Buffer.alloc(DEFAULT_WINDOW)));
    g.guest.write(frame);
    // The host acknowledges the window once resumed; the guest may then send it again.
    const credit = new Promise<number>((resolve) => {
      const dec = new FrameDecoder();
      g.guest.on('data', (b: Buffer) => {
        for (const f of dec.push(b)) if (f.kind === FrameKind.Window) resolve(f.payload.readUInt32BE(0));
      });
    });
    await until(() => got === DEFAULT_WINDOW);
    s.resume();
    expect(await credit).toBe(DEFAULT_WINDOW);
    g.guest.write(frame);
    await until(() => got === 2 * DEFAULT_WINDOW);
    expect(g.client.connected).toBe(true);
  });

  it('closes on frames the protocol does not allow from the guest', async () => {
    const cases: [string, (stream: number) => Buffer, RegExp][] = [
      ['REQUEST from the guest', (s) => encodeFrame(s, FrameKind.Request, RequestCodec.encode({ ping: {} })), /REQUEST frame/],
      ['DATA on the event stream', () => encodeFrame(0, FrameKind.Data, encodeData(1, Buffer.from('x'))), /DATA frame on the event stream/],
      ['EVENT off stream 0', (s) => encodeFrame(s, FrameKind.Event, EventCodec.encode({ oom: { container_id: 'c', at_ns: '1' } })), /EVENT frame on stream/],
      ['DATA for stdin', (s) => encodeFrame(s, FrameKind.Data, encodeData(0, Buffer.from('x'))), /DATA for fd 0/],
      ['a second RESPONSE', (s) => encodeFrame(s, FrameKind.Response, ResponseCodec.encode({ empty: {} })), /second RESPONSE/],
      ['a WINDOW frame of 3 bytes', (s) => encodeFrame(s, FrameKind.Window, Buffer.alloc(3)), /WINDOW frame of 3 bytes/],
      ['a WINDOW for bytes never sent', (s) => encodeFrame(s, FrameKind.Window, encodeWindow(1)), /grants 1 bytes the host never sent/],
    ];
    for (const [what, frame, pattern] of cases) {
      const g = await fakeGuest();
      const { stream } = await openFollow(g);
      const pending = g.client.call('ping', {});
      g.guest.write(frame(stream));
      await expectViolation(g, pending, pattern).catch((e: unknown) => {
        throw new Error(`${what}: ${(e as Error).message}`);
      });
    }
  });

  it('a valid exchange keeps the channel: responses, DATA, exit status, events', async () => {
    const g = await fakeGuest();
    const events: unknown[] = [];
    g.client.on('event', (e) => events.push(e.ev));
    const data: string[] = [];
    let exit: unknown;
    const s = g.client.openStream('exec_process', { container_id: 'c', args: ['true'], env: [], cwd: '', tty: false, stdin: false, timeout_seconds: 0 }, { onData: (_fd, b) => data.push(b.toString()), onClose: (st) => (exit = st?.exit_code) });
    const { stream } = await g.nextRequest();
    g.guest.write(
      Buffer.concat([
        encodeFrame(stream, FrameKind.Response, ResponseCodec.encode({ exec_process: { exec_id: 'e', pid: 3 } })),
        encodeFrame(stream, FrameKind.Data, encodeData(1, Buffer.from('out'))),
        encodeFrame(stream, FrameKind.Data, encodeData(2, Buffer.alloc(0))),
        encodeFrame(0, FrameKind.Event, EventCodec.encode({ oom: { container_id: 'c', at_ns: '5' } })),
        encodeFrame(stream, FrameKind.Close, ExitStatusCodec.encode({ exit_code: 7, reason: 'Error', finished_at_ns: '1', signal: 0 })),
      ]),
    );
    await s.response;
    await until(() => exit !== undefined);
    expect(data).toEqual(['out', '']);
    expect(exit).toBe(7);
    expect(events).toEqual(['oom']);
    expect(g.client.connected).toBe(true);
  });

  it('drops frames for streams it does not know (an earlier daemon\'s calls answered late), keeping the channel', async () => {
    const g = await fakeGuest();
    const { stream } = await openFollow(g);
    const other = stream ^ 0x40000000;
    g.guest.write(
      Buffer.concat([
        encodeFrame(other, FrameKind.Response, ResponseCodec.encode({ wait_container: { exit_code: 0, reason: 'Completed', finished_at_ns: '1', signal: 0 } })),
        encodeFrame(other, FrameKind.Data, encodeData(1, Buffer.from('x'))),
        encodeFrame(other, FrameKind.Window, encodeWindow(5)),
        encodeFrame(other, FrameKind.Close),
      ]),
    );
    const pending = g.client.call('ping', {});
    const { stream: ping } = await g.nextRequest();
    g.guest.write(encodeFrame(ping, FrameKind.Response, ResponseCodec.encode({ ping: { kernel_release: 'k' } })));
    expect((await pending).kernel_release).toBe('k');
    expect(g.client.droppedFrames).toBe(4);
    expect(g.client.connected).toBe(true);
  });

  it('sends the guest no more than a bounded window, whatever window it announces', async () => {
    for (const [announced, honoured] of [
      [0, DEFAULT_WINDOW],
      [0xffffffff, MAX_PEER_WINDOW],
      [1000, 1000],
    ] as const) {
      const g = await fakeGuest(announced);
      const s = g.client.openStream('port_forward', { port: 80 }, { onData: () => undefined });
      s.response.catch(() => undefined);
      await g.nextRequest();
      let accepted = 0;
      for (let i = 0; i < 64 && s.write(0, Buffer.alloc(64 << 10)); i++) accepted += 64 << 10;
      expect(accepted, `announced ${announced}`).toBeLessThanOrEqual(honoured);
      expect(accepted + (64 << 10), `announced ${announced}`).toBeGreaterThan(honoured);
    }
  });

  it('an exception in a host handler closes the channel instead of escaping', async () => {
    const g = await fakeGuest();
    g.client.on('event', () => {
      throw new Error('listener bug');
    });
    const pending = g.client.call('ping', {});
    g.guest.write(encodeFrame(0, FrameKind.Event, EventCodec.encode({ oom: { container_id: 'c', at_ns: '5' } })));
    const why = await g.disconnected;
    expect(why?.message).toMatch(/handling a EVENT frame from the guest failed: listener bug/);
    await expect(pending).rejects.toThrow(/listener bug/);
  });
});

describe('AgentClient typed calls (protocol.ts RESPONSE_KIND)', () => {
  it('resolves with the body of the response kind that answers the request', async () => {
    const g = await fakeGuest();
    const pending = g.client.call('start_container', { container_id: 'c' });
    const { stream, req } = await g.nextRequest();
    expect(req.req).toBe('start_container');
    g.guest.write(encodeFrame(stream, FrameKind.Response, ResponseCodec.encode({ start_container: { pid: 42 } })));
    expect(await pending).toEqual({ pid: 42 });
    const empty = g.client.call('delete_container', { container_id: 'c' });
    g.guest.write(encodeFrame((await g.nextRequest()).stream, FrameKind.Response, ResponseCodec.encode({ empty: {} })));
    expect(await empty).toEqual({});
    expect(g.client.connected).toBe(true);
  });

  it('an agent error still rejects with its code, not as a violation', async () => {
    const g = await fakeGuest();
    const pending = g.client.call('stats', { container_ids: ['c'] });
    g.guest.write(encodeFrame((await g.nextRequest()).stream, FrameKind.Response, ResponseCodec.encode({ error: 'gone', code: Code.NotFound })));
    await expect(pending).rejects.toMatchObject({ code: Code.NotFound, message: 'gone' });
    expect(g.client.connected).toBe(true);
  });

  it('a response of the wrong kind closes the channel and fails the call', async () => {
    const g = await fakeGuest();
    const pending = g.client.call('stats', { container_ids: ['c'] });
    g.guest.write(encodeFrame((await g.nextRequest()).stream, FrameKind.Response, ResponseCodec.encode({ empty: {} })));
    await expectViolation(g, pending, /empty response to a stats request \(expected stats\)/);
  });

  it('a successful response with no body closes the channel and fails the call', async () => {
    const g = await fakeGuest();
    const pending = g.client.call('wait_container', { container_id: 'c' });
    g.guest.write(encodeFrame((await g.nextRequest()).stream, FrameKind.Response, ResponseCodec.encode({})));
    await expectViolation(g, pending, /no response to a wait_container request \(expected wait_container\)/);
  });

  it('a stream answered with the wrong kind is failed too', async () => {
    const g = await fakeGuest();
    const s = g.client.openStream('exec_process', { container_id: 'c', args: ['true'] }, { onData: () => undefined, onClose: () => undefined });
    g.guest.write(encodeFrame((await g.nextRequest()).stream, FrameKind.Response, ResponseCodec.encode({ ping: {} })));
    await expectViolation(g, s.response, /ping response to a exec_process request/);
  });
});
