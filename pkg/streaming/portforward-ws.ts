// kubelet's WebSocket port-forward protocol (before SPDY-over-WebSocket tunnelling): the ports
// come from the `ports` query parameter, port i uses data channel 2i and error channel 2i+1,
// and the first message the server sends on each of them is the port, 2 bytes little-endian.
// One connection per port per WebSocket.
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { WebSocket } from 'ws';
import { ChannelMux } from './websocket.js';
import type { Dial } from './portforward.js';

export const WS_PORTFORWARD_PROTOCOLS = ['v4.channel.k8s.io', 'v4.base64.channel.k8s.io', 'portforward.k8s.io', 'channel.k8s.io', 'base64.channel.k8s.io'];

export function parsePortsQuery(url: string, registered: number[]): number[] {
  const q = new URL(url, 'http://x').searchParams.getAll('ports');
  const ports = q.flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean).map(Number);
  return ports.length ? ports : registered;
}

export function servePortForwardWebSocket(ws: WebSocket, protocol: string, url: string, registered: number[], dial: Dial, podId: string, log: Logger): void {
  const ports = parsePortsQuery(url, registered);
  const bad = ports.find((p) => !Number.isInteger(p) || p < 1 || p > 65535);
  if (ports.length === 0 || bad !== undefined) {
    ws.close(1008, bad !== undefined ? `invalid port ${bad}` : 'no ports given');
    return;
  }
  const mux = new ChannelMux(ws, protocol);
  const conns = new Set<Duplex>();
  ws.once('close', () => conns.forEach((c) => c.destroy()));
  let open = ports.length;
  const oneDone = (): void => {
    if (--open === 0 && ws.readyState === ws.OPEN) ws.close(1000);
  };
  ports.forEach((port, i) => {
    const input = mux.reader(2 * i);
    const out = mux.writer(2 * i);
    const err = mux.writer(2 * i + 1);
    const prefix = Buffer.alloc(2);
    prefix.writeUInt16LE(port, 0);
    out.write(prefix);
    err.write(prefix);
    dial(port).then(
      (conn) => {
        conns.add(conn);
        input.pipe(conn);
        conn.pipe(out, { end: false });
        const finish = (e?: Error): void => {
          if (e) err.write(Buffer.from(`error forwarding port ${port} to pod ${podId}: ${e.message}`));
          conns.delete(conn);
          conn.destroy();
          oneDone();
        };
        conn.once('error', finish);
        conn.once('end', () => finish());
      },
      (e: Error) => {
        log.info({ port, err: e.message }, 'port-forward connection failed');
        err.write(Buffer.from(`error forwarding port ${port} to pod ${podId}: ${e.message}`));
        oneDone();
      },
    );
  });
}
