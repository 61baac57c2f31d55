// RPCs on a container's processes and stdio: ExecProcess (a new process, its stdio on the stream),
// SignalExec, and Attach (the live stdio of the container's own process).
import { constants as osConstants } from 'node:os';
import { AgentError, Code } from '../vmchannel/codec.js';
import { Fd } from '../vmchannel/protocol.js';
import type { AgentContainers } from './containers.js';
import type { Handlers } from './rpc.js';

const { SIGKILL } = osConstants.signals;

/** An attach session's output is dropped beyond this backlog (the container must not block on a slow client). */
const ATTACH_MAX_BACKLOG = 1 << 20;

export function execRpcs(c: AgentContainers, log: (msg: string) => void): Handlers<'exec_process' | 'signal_exec' | 'attach'> {
  return {
    exec_process: (r, ctx) => {
      const h = c.exec(r, { write: (fd, b) => ctx.sendData(fd, b), onDrain: (f) => ctx.onDrain(f) }, (st) => {
        ctx.dropSink();
        ctx.close(st);
      });
      ctx.setSink({ target: h.stdin, close: () => h.stdin?.end() });
      return { exec_id: h.execId, pid: h.pid };
    },
    signal_exec: (r) => {
      // 0 is "no signal given" in proto3: the exec is being abandoned, so it is killed.
      c.signalExec(r.exec_id, r.signal || SIGKILL);
      return {};
    },
    /** Live stdio of a running container (see AttachRequest); output beyond ATTACH_MAX_BACKLOG is dropped. */
    attach: (r, ctx) => {
      const ct = c.get(r.container_id);
      if (ct.state !== 'running') throw new AgentError(Code.FailedPrecondition, `container ${r.container_id} is ${ct.state}, not running`);
      let dropped = 0;
      const onOutput = (cid: string, fd: 1 | 2, b: Buffer): void => {
        if (cid !== r.container_id || (fd === Fd.Stdout ? !r.stdout : !r.stderr)) return;
        if (ctx.backlog > ATTACH_MAX_BACKLOG) {
          dropped += b.length;
          return;
        }
        ctx.sendData(fd, b);
      };
      const onExit = (cid: string): void => {
        if (cid !== r.container_id) return;
        stop();
        ctx.dropSink();
        ctx.close();
      };
      const stop = (): void => {
        c.off('output', onOutput);
        c.off('exit', onExit);
        ctx.dropPusher();
        if (dropped) log(`attach ${r.container_id}: dropped ${dropped} output bytes for a slow client`);
      };
      const stdin = r.stdin ? c.stdinOf(r.container_id) : null;
      ctx.setSink({
        target: stdin,
        eof: () => {
          if (r.stdin_once) stdin?.end();
        },
        close: () => {
          stop();
          ctx.close();
        },
      });
      // Output may only follow the reply: subscribe after it is queued.
      setImmediate(() => {
        c.on('output', onOutput);
        c.on('exit', onExit);
        ctx.setPusher(stop);
      });
      return {};
    },
  };
}
