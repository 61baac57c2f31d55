// RPCs that stream bytes the container did not write to its stdio: FollowLogs (the CRI log file the
// agent writes, read as the host's credit allows) and PortForward (a TCP connection in the guest).
import { connect } from 'node:net';
import { AgentError, Code } from '../vmchannel/codec.js';
import { DATA_CHUNK, Fd } from '../vmchannel/protocol.js';
import type { AgentContainers } from './containers.js';
import type { Handlers, StreamContext } from './rpc.js';

export function streamRpcs(c: AgentContainers): Handlers<'follow_logs' | 'port_forward'> {
  return {
    follow_logs: (r, ctx) => {
      followLogs(c, ctx, r.container_id, Number(r.offset));
      return {};
    },
    port_forward: async (r, ctx) => {
      await portForward(ctx, r.port);
      return {};
    },
  };
}

/**
 * Sends the log file from offset on, then what gets appended, reading the file as the host's credit
 * allows (a slow host never makes the agent hold the log in memory); CLOSE once the container exited
 * and everything was sent.
 */
function followLogs(c: AgentContainers, ctx: StreamContext, id: string, offset: number): void {
  const ct = c.get(id);
  let sent = offset;
  let stopped = false;
  let waiting = false;
  const pump = (): void => {
    if (stopped || waiting) return;
    while (sent < ct.log.bytes) {
      // A host that lagged past the guest's cap (cri-log.ts) gets the oldest bytes still kept.
      if (sent < ct.log.firstOffset) sent = ct.log.firstOffset;
      const buf = Buffer.allocUnsafe(Math.min(ct.log.bytes - sent, DATA_CHUNK));
      const n = ct.log.read(sent, buf);
      if (n <= 0) break;
      sent += n;
      ct.log.markShipped(sent);
      if (!ctx.sendData(Fd.Stdout, buf.subarray(0, n))) {
        waiting = true;
        ctx.onDrain(() => {
          waiting = false;
          pump();
        });
        return;
      }
    }
    if (ct.state === 'exited' && sent >= ct.log.bytes) {
      stop();
      ctx.close();
    }
  };
  const onExit = (cid: string): void => {
    if (cid === id) pump();
  };
  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    ct.log.follow(false);
    ct.log.off('append', pump);
    c.off('exit', onExit);
    ctx.dropPusher();
  };
  // Response goes first: defer the data until after it is queued.
  setImmediate(() => {
    if (stopped) return;
    ct.log.follow(true);
    ct.log.on('append', pump);
    c.on('exit', onExit);
    ctx.setPusher(stop);
    pump();
  });
}

/** Connects to 127.0.0.1:port in the guest and bridges it to the stream (see PortForwardRequest). */
function portForward(ctx: StreamContext, port: number): Promise<void> {
  if (!port || port > 65535) return Promise.reject(new AgentError(Code.InvalidArgument, `bad port ${port}`));
  return new Promise((resolve, reject) => {
    const sock = connect({ host: '127.0.0.1', port });
    let open = false;
    sock.once('connect', () => {
      open = true;
      ctx.setSink({ target: sock, close: () => sock.end() });
      ctx.setPusher(() => sock.destroy());
      resolve();
      // Data may only follow the response: start reading after it is queued.
      setImmediate(() =>
        sock.on('data', (b: Buffer) => {
          if (!ctx.sendData(Fd.Stdout, b)) {
            sock.pause();
            ctx.onDrain(() => sock.resume());
          }
        }),
      );
    });
    sock.on('error', (e) => {
      if (!open) reject(new AgentError(Code.Unavailable, `connect 127.0.0.1:${port} in the guest: ${e.message}`));
    });
    sock.on('close', () => {
      if (!open) return;
      ctx.dropSink();
      ctx.dropPusher();
      ctx.close();
    });
  });
}
