// WebSocket streams against hostile clients: bounded messages and bounded per-channel backlog.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import pino from 'pino';
import { WebSocket } from 'ws';
import { StreamingServer } from './server.js';
import { ChannelMux } from './websocket.js';
import type { ProcessStdio, StreamingBackend } from './backend.js';

/** A backend whose exec is a process that never reads stdin and never exits until killed. */
function idleBackend(): StreamingBackend {
  const proc = (): ProcessStdio => {
    let kill: () => void = () => undefined;
    const done = new Promise<{ exitCode?: number }>((r) => (kill = () => r({ exitCode: 137 })));
    return { stdin: new PassThrough({ highWaterMark: 1 }), stdout: new PassThrough(), wait: () => done, kill: () => kill() };
  };
  return {
    exec: () => Promise.resolve(proc()),
    attach: () => Promise.resolve(proc()),
    portForward: () => Promise.reject(new Error('no port-forward here')),
  };
}

let server: StreamingServer;
beforeAll(async () => {
  server = new StreamingServer({ address: '127.0.0.1', port: 0, tokenTtlSeconds: 60, backend: idleBackend(), log: pino({ level: 'silent' }) });
  await server.start();
});
afterAll(() => server.close());

function openExec(): Promise<WebSocket> {
  const url = server.register({ kind: 'exec', containerId: 'c', cmd: ['cat'], tty: false, stdin: true, stdout: true, stderr: false }).replace('http:', 'ws:');
  const ws = new WebSocket(url, ['v5.channel.k8s.io']);
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function closeCode(ws: WebSocket, ms: number): Promise<number | 'open'> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve('open'), ms);
    ws.once('close', (code: number) => {
      clearTimeout(t);
      resolve(code);
    });
  });
}

describe('WebSocket stream limits', () => {
  it('closes a connection sending a message over 1 MiB with 1009 (message too big)', async () => {
    const ws = await openExec();
    ws.on('error', () => undefined);
    ws.send(Buffer.concat([Buffer.from([0]), Buffer.alloc(2 * 1024 * 1024)]));
    expect(await closeCode(ws, 2000)).toBe(1009);
  });

  it('accepts a 512 KiB stdin message', async () => {
    const ws = await openExec();
    ws.send(Buffer.concat([Buffer.from([0]), Buffer.alloc(512 * 1024)]));
    expect(await closeCode(ws, 200)).toBe('open');
    ws.terminate();
  });

  it('a channel whose backlog outgrows what pausing allows closes the connection (1008) instead of buffering', () => {
    // A socket that ignores pause(): the mux's own bound must hold.
    const closes: number[] = [];
    const ws = Object.assign(new EventEmitter(), { pause: () => undefined, resume: () => undefined, close: (code: number) => closes.push(code) });
    const mux = new ChannelMux(ws as unknown as WebSocket, 'v5.channel.k8s.io');
    const stdin = mux.reader(0);
    const msg = Buffer.concat([Buffer.from([0]), Buffer.alloc(1024 * 1024)]);
    for (let i = 0; i < 8 && closes.length === 0; i++) ws.emit('message', msg);
    expect(closes).toEqual([1008]);
    expect(stdin.destroyed).toBe(true);
  });

  it('data after a v5 channel close is dropped, not pushed after EOF (an uncaught stream error before)', async () => {
    const ws = Object.assign(new EventEmitter(), { pause: () => undefined, resume: () => undefined, close: () => undefined });
    const mux = new ChannelMux(ws as unknown as WebSocket, 'v5.channel.k8s.io');
    const stdin = mux.reader(0);
    const errors: Error[] = [];
    stdin.on('error', (e) => errors.push(e));
    ws.emit('message', Buffer.from([0, 0x61]));
    ws.emit('message', Buffer.from([255, 0]));
    ws.emit('message', Buffer.from([0, 0x62]));
    const got: Buffer[] = [];
    stdin.on('data', (c: Buffer) => got.push(c));
    await new Promise((r) => (stdin.once('end', r), stdin.once('close', r)));
    expect(Buffer.concat(got).toString()).toBe('a');
    expect(errors).toEqual([]);
  });

  it('writing to a channel of a closed socket fails the write, with no unheard error event', async () => {
    const ws = Object.assign(new EventEmitter(), { OPEN: 1, readyState: 3, pause: () => undefined, resume: () => undefined });
    const mux = new ChannelMux(ws as unknown as WebSocket, 'v4.channel.k8s.io');
    const out = mux.writer(1);
    expect(out.listenerCount('error')).toBeGreaterThan(0);
    const err = await new Promise<Error | null | undefined>((r) => out.write(Buffer.from('x'), r));
    expect(err?.message).toBe('websocket closed');
  });
});
