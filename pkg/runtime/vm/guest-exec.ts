// ExecSync in a pod VM: an ExecProcess stream whose output fills the caller's capped buffers, killed
// in the guest (SignalExec SIGKILL) when the host's deadline passes; the agent's own timer backs it up.
import { constants as osConstants } from 'node:os';
import type { Logger } from 'pino';
import type { ExecSyncExit, ExecSyncRequest } from '../task-runtime.js';
import { MAX_TIMER_MS } from '../../sys/long-timeout.js';
import { failedPrecondition } from '../../errors/errors.js';
import { AgentError } from '../../vmchannel/codec.js';
import type { AgentClient } from '../../vmchannel/client.js';
import { Fd } from '../../vmchannel/protocol.js';

const { SIGKILL } = osConstants.signals;

export function execSyncInGuest(agent: AgentClient, containerId: string, req: ExecSyncRequest, log: Logger): Promise<ExecSyncExit> {
  // The agent's own timer backs up the host's deadline (a host that stopped answering); it is a
  // Node setTimeout too, so past 2^31-1 ms only the host's deadline applies (0: none in the guest).
  const guestTimeoutSec = Math.ceil(req.timeoutMs / 1000);
  return new Promise<ExecSyncExit>((resolve, reject) => {
    let execId = '';
    const kill = (): void => {
      if (execId) void agent.call('signal_exec', { exec_id: execId, signal: SIGKILL }).catch(() => undefined); // the VM may be gone: the exec ends with the channel either way
    };
    const onDeadline = (): void => {
      log.info({ containerId, timeoutMs: req.timeoutMs }, 'exec sync deadline: killing the command');
      kill();
    };
    const s = agent.openStream(
      'exec_process',
      { container_id: containerId, args: req.cmd, env: [], cwd: '', tty: false, stdin: false, timeout_seconds: guestTimeoutSec * 1000 <= MAX_TIMER_MS ? guestTimeoutSec : 0 },
      {
        onData: (fd, b) => (fd === Fd.Stderr ? req.stderr : req.stdout).push(b),
        onClose: (st) => {
          req.deadline.removeEventListener('abort', onDeadline);
          resolve({ exitCode: st?.exit_code ?? -1, timedOut: st?.reason === 'Timeout' });
        },
      },
    );
    s.response.then(
      (r) => {
        execId = r.exec_id;
        if (req.deadline.aborted) kill();
      },
      (e: unknown) => {
        req.deadline.removeEventListener('abort', onDeadline);
        reject(e instanceof AgentError ? failedPrecondition(`exec in pod VM: ${e.message}`) : e);
      },
    );
    req.deadline.addEventListener('abort', onDeadline, { once: true });
  });
}
