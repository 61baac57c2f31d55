import { describe, expect, it } from 'vitest';
import { TokenCache } from './tokens.js';
import { encodeStatus, exitCodeStatus, internalErrorStatus, ResizeDecoder, successStatus } from './remotecommand.js';
import { EventEmitter } from 'node:events';
import type { WebSocket } from 'ws';
import { ChannelMux, decodeChannelMessage, encodeChannelMessage } from './websocket.js';
import { headerList, negotiate } from './server.js';
import { parsePortsQuery } from './portforward-ws.js';

describe('token cache', () => {
  const req = { kind: 'portforward' as const, podSandboxId: 'p', ports: [] };
  it('redeems a token once', () => {
    const c = new TokenCache(1000);
    const t = c.insert(req);
    expect(t).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(c.consume(t)).toEqual(req);
    expect(c.consume(t)).toBeUndefined();
    expect(c.consume('nope')).toBeUndefined();
  });
  it('expires tokens after the TTL', () => {
    let now = 0;
    const c = new TokenCache(1000, () => now);
    const t1 = c.insert(req);
    const t2 = c.insert(req);
    now = 999;
    expect(c.consume(t1)).toEqual(req);
    now = 1000;
    expect(c.consume(t2)).toBeUndefined();
    c.insert(req);
    now = 5000;
    c.insert(req); // gc drops the expired one
    expect(c.size).toBe(1);
  });
});

describe('error channel status', () => {
  it('encodes success and exit codes exactly as kubelet (v4+ JSON)', () => {
    expect(encodeStatus('v4.channel.k8s.io', successStatus())!.toString()).toBe('{"metadata":{},"status":"Success"}');
    expect(JSON.parse(encodeStatus('v5.channel.k8s.io', exitCodeStatus(['sh', '-c', 'exit 3'], 3))!.toString())).toEqual({
      metadata: {},
      status: 'Failure',
      message: 'command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3',
      reason: 'NonZeroExitCode',
      details: { causes: [{ reason: 'ExitCode', message: '3' }] },
    });
  });
  it('sends plain text failures and nothing on success before v4', () => {
    expect(encodeStatus('v3.channel.k8s.io', successStatus())).toBeUndefined();
    expect(encodeStatus('channel.k8s.io', internalErrorStatus('boom'))!.toString()).toBe('Internal error occurred: boom');
  });
});

describe('resize messages', () => {
  it('decodes newline-delimited and bare JSON objects, split anywhere', () => {
    const d = new ResizeDecoder();
    expect(d.push(Buffer.from('{"Width":80,"Hei'))).toEqual([]);
    expect(d.push(Buffer.from('ght":24}\n{"Width":100,"Height":30}\n'))).toEqual([
      { width: 80, height: 24 },
      { width: 100, height: 30 },
    ]);
    expect(d.push(Buffer.from('{"Width":1,"Height":2}'))).toEqual([{ width: 1, height: 2 }]);
    expect(d.push(Buffer.from('garbage\n'))).toEqual([]);
  });
});

describe('websocket channel framing', () => {
  it('prefixes binary messages with the channel byte', () => {
    expect(encodeChannelMessage(1, Buffer.from('hi'), false)).toEqual(Buffer.from([1, 0x68, 0x69]));
    expect(decodeChannelMessage(Buffer.from([0, 0x61]), false, true)).toEqual({ kind: 'data', channel: 0, data: Buffer.from('a') });
  });
  it('uses ASCII channel digits and base64 for the base64 protocols', () => {
    expect(encodeChannelMessage(2, Buffer.from('hi'), true)).toBe('2aGk=');
    expect(decodeChannelMessage(Buffer.from('0aGk='), true, false)).toEqual({ kind: 'data', channel: 0, data: Buffer.from('hi') });
  });
  it('understands the v5 close signal only on v5', () => {
    expect(decodeChannelMessage(Buffer.from([255, 0]), false, true)).toEqual({ kind: 'close', channel: 0 });
    expect(decodeChannelMessage(Buffer.from([255, 0, 1]), false, true)).toEqual({ kind: 'invalid' });
    expect(decodeChannelMessage(Buffer.from([255, 0]), false, false)).toEqual({ kind: 'data', channel: 255, data: Buffer.from([0]) });
    expect(decodeChannelMessage(Buffer.alloc(0), false, true)).toBeUndefined();
  });
  it('a channel blocked and then closed stops holding the socket paused once read to the end', async () => {
    // Just the parts of a ws socket the mux uses.
    const ws = Object.assign(new EventEmitter(), { paused: false, pause: () => (ws.paused = true), resume: () => (ws.paused = false) });
    const mux = new ChannelMux(ws as unknown as WebSocket, 'v5.channel.k8s.io');
    const stdin = mux.reader(0);
    ws.emit('message', Buffer.concat([Buffer.from([0]), Buffer.alloc(300 * 1024)]));
    expect(ws.paused).toBe(true);
    ws.emit('message', Buffer.from([255, 0]));
    stdin.resume();
    await new Promise((r) => stdin.once('end', r));
    await new Promise((r) => setImmediate(r));
    expect(ws.paused).toBe(false);
  });
});

describe('negotiation', () => {
  it('takes the first client protocol the server supports', () => {
    expect(negotiate(['v5.channel.k8s.io', 'v4.channel.k8s.io'], ['v4.channel.k8s.io', 'v5.channel.k8s.io'])).toBe('v5.channel.k8s.io');
    expect(negotiate(['v9'], ['v4.channel.k8s.io'])).toBeUndefined();
    expect(negotiate([], ['v4.channel.k8s.io'])).toBe('');
  });
  it('splits repeated and comma-joined headers', () => {
    expect(headerList(['a, b', 'c'])).toEqual(['a', 'b', 'c']);
    expect(headerList(undefined)).toEqual([]);
  });
  it('reads websocket port-forward ports from the query', () => {
    expect(parsePortsQuery('/portforward/x?ports=80,443&ports=8080', [])).toEqual([80, 443, 8080]);
    expect(parsePortsQuery('/portforward/x', [22])).toEqual([22]);
  });
});
