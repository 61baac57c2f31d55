import { describe, expect, it } from 'vitest';
import { Duplex, PassThrough } from 'node:stream';
import zlib from 'node:zlib';
import pino from 'pino';
import { SpdySession, type SpdyStream } from './spdy.js';
import { FrameParser, decodeHeaderBlock, encodeData, encodeHeaderBlock, encodePing, encodeRstStream, encodeSynStream, type Frame } from './spdy-frames.js';
import { HeaderDecompressor } from './spdy-zlib.js';
import { SPDY3_HEADER_DICTIONARY } from './spdy-dictionary.js';

/** A fake SPDY client on the other end of an in-memory pipe, compressing like Go's spdystream. */
function harness() {
  const toServer = new PassThrough();
  const toClient = new PassThrough();
  const serverSide = Duplex.from({ readable: toServer, writable: toClient });
  const session = new SpdySession(serverSide, pino({ level: 'silent' }));
  const deflate = zlib.createDeflate({ dictionary: SPDY3_HEADER_DICTIONARY });
  const inflater = new HeaderDecompressor();
  const parser = new FrameParser();
  const frames: Frame[] = [];
  toClient.on('data', (b: Buffer) => frames.push(...parser.push(b)));
  const compress = (h: Record<string, string[]>) =>
    new Promise<Buffer>((resolve) => {
      const parts: Buffer[] = [];
      const on = (c: Buffer) => parts.push(c);
      deflate.on('data', on);
      deflate.write(encodeHeaderBlock(h));
      deflate.flush(zlib.constants.Z_SYNC_FLUSH, () => {
        deflate.off('data', on);
        resolve(Buffer.concat(parts));
      });
    });
  const nextStream = () => new Promise<SpdyStream>((r) => session.once('stream', r));
  const tick = () => new Promise((r) => setTimeout(r, 20));
  return { session, serverSide, toServer, frames, compress, inflater, nextStream, tick };
}

describe('SpdySession', () => {
  it('accepts streams, replies, carries data both ways with FIN, echoes pings', async () => {
    const h = harness();
    const got = h.nextStream();
    h.toServer.write(encodeSynStream(1, await h.compress({ streamtype: ['stdout'], port: ['80'] })));
    const s = await got;
    expect(s.header('streamType')).toBe('stdout');
    s.reply();
    s.write(Buffer.from('from server'));
    s.end();
    h.toServer.write(encodeData(1, Buffer.from('from client'), true));
    h.toServer.write(encodePing(7));
    const chunks: Buffer[] = [];
    s.on('data', (c: Buffer) => chunks.push(c));
    await new Promise((r) => s.once('end', r));
    expect(Buffer.concat(chunks).toString()).toBe('from client');
    await h.tick();
    const reply = h.frames.find((f) => f.type === 'syn_reply');
    expect(reply).toMatchObject({ type: 'syn_reply', streamId: 1 });
    // Our (stored-block) header block inflates in the client's zlib context.
    expect(decodeHeaderBlock(await h.inflater.decompress((reply as { headerBlock: Buffer }).headerBlock))).toEqual({});
    expect(h.frames).toContainEqual({ type: 'data', streamId: 1, flags: 0, data: Buffer.from('from server') });
    expect(h.frames).toContainEqual({ type: 'data', streamId: 1, flags: 1, data: Buffer.alloc(0) });
    expect(h.frames).toContainEqual({ type: 'ping', id: 7 });
    h.session.close();
  });

  it('pauses the transport while a stream is unread, and resumes when it is read', async () => {
    const h = harness();
    const got = h.nextStream();
    h.toServer.write(encodeSynStream(1, await h.compress({ streamtype: ['data'] })));
    const s = await got;
    const big = Buffer.alloc(64 * 1024, 1);
    for (let i = 0; i < 8; i++) h.toServer.write(encodeData(1, big, false)); // 512 KiB > the 256 KiB stream buffer
    await h.tick();
    expect(h.serverSide.isPaused()).toBe(true);
    let n = 0;
    s.on('data', (c: Buffer) => (n += c.length));
    await h.tick();
    expect(n).toBe(8 * big.length);
    expect(h.serverSide.isPaused()).toBe(false);
    h.session.close();
  });

  it('a stream that was blocked and then finished releases the transport once it is read to the end', async () => {
    const h = harness();
    let got = h.nextStream();
    h.toServer.write(encodeSynStream(1, await h.compress({ streamtype: ['data'] })));
    const s1 = await got;
    got = h.nextStream();
    h.toServer.write(encodeSynStream(3, await h.compress({ streamtype: ['data'] })));
    const s3 = await got;
    // One transport chunk: 512 KiB then FIN for stream 1 (blocked, then ended), then data for 3.
    const big = Buffer.alloc(64 * 1024, 1);
    const frames = [...Array.from({ length: 8 }, () => encodeData(1, big, false)), encodeData(1, Buffer.alloc(0), true)];
    h.toServer.write(Buffer.concat(frames));
    await h.tick();
    expect(h.serverSide.isPaused()).toBe(true);
    h.toServer.write(encodeData(3, Buffer.from('other stream'), false));
    let n = 0;
    s1.on('data', (c: Buffer) => (n += c.length));
    await new Promise((r) => s1.once('end', r));
    expect(n).toBe(8 * big.length);
    // Stream 1 is never ended locally (the pod side still answers): the session must not stay paused.
    const other = await new Promise<Buffer>((r) => s3.once('data', r));
    expect(other.toString()).toBe('other stream');
    expect(h.serverSide.isPaused()).toBe(false);
    h.session.close();
  });

  it('RST_STREAM destroys the stream; closing the session destroys the rest', async () => {
    const h = harness();
    let got = h.nextStream();
    h.toServer.write(encodeSynStream(1, await h.compress({ streamtype: ['error'] })));
    const a = await got;
    got = h.nextStream();
    h.toServer.write(encodeSynStream(3, await h.compress({ streamtype: ['data'] })));
    const b = await got;
    h.toServer.write(encodeRstStream(1, 5));
    await h.tick();
    expect(a.destroyed).toBe(true);
    expect(b.destroyed).toBe(false);
    expect(h.session.streamCount).toBe(1);
    h.session.close();
    expect(b.destroyed).toBe(true);
  });
});
