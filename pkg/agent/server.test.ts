// The agent must outlive a frame it cannot handle: it is the only process the host talks to in the guest.
import { describe, expect, it, vi } from 'vitest';
import { EventEmitter, once } from 'node:events';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { FrameKind, encodeFrame, type Frame } from '../vmchannel/frame.js';
import { RequestCodec, ResponseCodec } from '../vmchannel/codec.js';
import type { SerialPort } from './port.js';
import { FakePort, until } from './testdata/fake-port.js';

// The real container manager sets up /run/bulkhead and drives crun: not wanted in a unit test.
vi.mock('./containers.js', () => ({ AgentContainers: class extends EventEmitter {} }));
const { AgentServer } = await import('./server.js');

describe('AgentServer with junk host frames', () => {
  it('drops an empty DATA frame on an open stream and keeps serving', async () => {
    const tcp = createServer((s) => s.on('error', () => undefined));
    tcp.listen(0, '127.0.0.1');
    await once(tcp, 'listening');
    const port = new FakePort();
    const logs: string[] = [];
    new AgentServer(port as unknown as SerialPort, (m) => logs.push(m));
    const responses = (): Frame[] => port.frames.filter((f) => f.kind === FrameKind.Response);
    try {
      port.emit('data', encodeFrame(1, FrameKind.Request, RequestCodec.encode({ hello: { nonce: 'n', window: 1 << 18 } })));
      port.emit('data', encodeFrame(2, FrameKind.Request, RequestCodec.encode({ port_forward: { port: (tcp.address() as AddressInfo).port } })));
      await until(() => responses().length === 2);
      // DATA without its fd byte, then a ping in the same chunk
      expect(() => port.emit('data', Buffer.concat([encodeFrame(2, FrameKind.Data), encodeFrame(3, FrameKind.Request, RequestCodec.encode({ ping: {} }))]))).not.toThrow();
      await until(() => responses().length === 3);
      expect(ResponseCodec.decode(responses()[2]!.payload).resp).toBe('ping');
      expect(logs.some((l) => /dropping frame \(stream 2, kind 3, 0 bytes\): empty DATA payload/.test(l))).toBe(true);
    } finally {
      port.emit('hostGone');
      tcp.close();
    }
  });
});
