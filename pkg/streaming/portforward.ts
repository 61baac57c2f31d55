// Port forwarding over SPDY (protocol portforward.k8s.io): for every forwarded connection
// the client opens an error stream and a data stream carrying the same `requestID` and
// `port` headers. We dial the port inside the pod once both have arrived, copy bytes both
// ways with half-close, report a failure as text on the error stream, and FIN both streams
// when the connection is done. Also used verbatim for SPDY tunnelled over WebSocket.
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { SpdySession, SpdyStream } from './spdy.js';

export const PORTFORWARD_PROTOCOL = 'portforward.k8s.io';
const PAIR_TIMEOUT_MS = 30_000;

export type Dial = (port: number) => Promise<Duplex>;

interface Pair {
  data?: SpdyStream;
  error?: SpdyStream;
  timer: NodeJS.Timeout;
}

/** Serves port-forward streams on a session until it closes. allowedPorts empty = any port. */
export function servePortForwardSpdy(session: SpdySession, dial: Dial, podId: string, log: Logger): void {
  const pairs = new Map<string, Pair>();
  const live = new Set<Duplex>();
  session.on('close', () => {
    for (const p of pairs.values()) clearTimeout(p.timer);
    pairs.clear();
    for (const c of live) c.destroy();
    live.clear();
  });
  session.on('stream', (s) => {
    s.reply();
    s.on('error', () => undefined);
    const type = s.header('streamtype');
    if (type !== 'data' && type !== 'error') {
      s.reset();
      return;
    }
    // Clients older than requestID pair streams by id: the data stream follows its error stream.
    const id = s.header('requestid') ?? String(type === 'data' ? s.id - 2 : s.id);
    let p = pairs.get(id);
    if (!p) {
      p = {
        timer: setTimeout(() => {
          pairs.delete(id);
          p?.data?.reset();
          p?.error?.reset();
          log.warn({ requestId: id }, 'port-forward stream pair incomplete; dropped');
        }, PAIR_TIMEOUT_MS).unref(),
      };
      pairs.set(id, p);
    }
    if (p[type]) {
      s.reset();
      return;
    }
    p[type] = s;
    if (p.data && p.error) {
      clearTimeout(p.timer);
      pairs.delete(id);
      void forward(p.data, p.error, dial, podId, live, log.child({ requestId: id }));
    }
  });
}

async function forward(data: SpdyStream, error: SpdyStream, dial: Dial, podId: string, live: Set<Duplex>, log: Logger): Promise<void> {
  error.resume(); // the client half-closes it at once; we only write
  const portHeader = data.header('port') ?? error.header('port') ?? '';
  const port = Number(portHeader);
  const fail = (msg: string): void => {
    log.info({ port: portHeader, err: msg }, 'port-forward connection failed');
    if (!error.destroyed) error.end(msg);
    if (!data.destroyed) data.end();
  };
  if (!/^\d+$/.test(portHeader) || port < 1 || port > 65535) return fail(`invalid port "${portHeader}"`);
  let conn: Duplex;
  try {
    conn = await dial(port);
  } catch (e) {
    return fail(`error forwarding port ${port} to pod ${podId}: ${(e as Error).message}`);
  }
  if (data.destroyed) {
    conn.destroy();
    return;
  }
  live.add(conn);
  log.debug({ port }, 'port-forward connection open');
  // Like kubelet's runtimes, the connection is over when the pod side reaches EOF (or fails):
  // then both streams get their FIN. A client half-close only half-closes the pod side.
  await new Promise<void>((resolve) => {
    let settled = false;
    const done = (failed?: string): void => {
      if (settled) return;
      settled = true;
      live.delete(conn);
      if (failed) fail(`error forwarding port ${port} to pod ${podId}: ${failed}`);
      else {
        if (!data.destroyed) data.end();
        if (!error.destroyed) error.end();
      }
      conn.destroy();
      // Discard whatever the client still sends on this stream: an unread stream would keep the
      // whole session paused (see SpdySession's back-pressure).
      data.unpipe();
      data.resume();
      resolve();
    };
    conn.on('error', (e: Error) => done(e.message));
    conn.on('end', () => done());
    conn.on('close', () => done());
    // Client reset or session gone: drop the pod side too.
    data.on('close', () => done());
    data.pipe(conn);
    conn.pipe(data, { end: false });
  });
}
