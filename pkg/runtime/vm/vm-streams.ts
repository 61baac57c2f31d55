// Streaming exec/attach/port-forward for micro-VM pods (served by the VM task runtime and pod controller): exec and port-forward travel over the pod VM's agent channel
// (exec: ExecProcess stream with stdin/stdout/stderr DATA frames; port-forward: a TCP connection the
// agent opens to 127.0.0.1:<port> inside the guest; attach: the container's live stdio). Every stream
// is flow-controlled end to end (agent windows + Node back-pressure). tty: crun proxies the pty in the
// guest; a resize goes to the agent, which sets the size on the process's pty (ResizeRequest).
import { Duplex, PassThrough, Writable } from 'node:stream';
import { constants as osConstants } from 'node:os';
import { failedPrecondition } from '../../errors/errors.js';
import type { AgentClient, OpenStream } from '../../vmchannel/client.js';
import type { ResponseOf } from '../../vmchannel/protocol.js';
import { AgentError } from '../../vmchannel/codec.js';
import type { ProcessStdio, StdioOptions } from '../task-runtime.js';

const { SIGKILL } = osConstants.signals;

/**
 * Output of an agent stream into a local Readable with back-pressure: when the reader falls behind,
 * the stream stops acknowledging (the agent stops after one window) until the Readable drains.
 * An unwanted output (client did not ask for it) is discarded instead of buffered.
 */
function outputSink(s: () => OpenStream | undefined, out: PassThrough | undefined): (b: Buffer) => void {
  return (b) => {
    if (!out || out.destroyed) return;
    if (!out.write(b)) {
      s()?.pause();
      out.once('drain', () => s()?.resume());
    }
  };
}

/** Terminal resizes of a container (execId '') or exec: best effort, as kubelet's (a failed resize is not an error of the session). */
function resizer(agent: AgentClient, containerId: string, execId: string): (width: number, height: number) => void {
  return (width, height) => {
    void agent.call('resize', { container_id: containerId, exec_id: execId, width, height }).catch(() => undefined); // a resize is best effort, as kubelet's (not an error of the session)
  };
}

/** stdin towards the agent: the Writable's callback waits for the agent's window. */
function stdinWritable(s: OpenStream, onEnd: () => void): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      if (s.write(0, chunk)) cb();
      else s.onDrain(() => cb());
    },
    final(cb) {
      onEnd();
      cb();
    },
  });
}

/** A streaming exec of cmd in guest container `id` through its pod VM's agent. */
export async function execInGuest(agent: AgentClient, id: string, cmd: string[], opts: StdioOptions): Promise<ProcessStdio> {
  const stdout = opts.stdout ? new PassThrough() : undefined;
  const stderr = opts.stderr && !opts.tty ? new PassThrough() : undefined;
  let resolveExit!: (r: { exitCode?: number }) => void;
  const exited = new Promise<{ exitCode?: number }>((r) => (resolveExit = r));
  let s: OpenStream<ResponseOf<'exec_process'>> | undefined;
  const toOut = outputSink(() => s, stdout);
  // With a tty everything the client sees is the terminal (crun's own errors included).
  const toErr = opts.tty ? toOut : outputSink(() => s, stderr);
  s = agent.openStream(
    'exec_process',
    { container_id: id, args: cmd, env: [], cwd: '', tty: opts.tty, stdin: opts.stdin },
    {
      onData: (fd, b) => (fd === 2 ? toErr : toOut)(b),
      onClose: (st) => {
        stdout?.end();
        stderr?.end();
        resolveExit({ exitCode: st?.exit_code ?? undefined });
      },
    },
  );
  const started = await s.response.catch((e: unknown) => {
    throw e instanceof AgentError ? failedPrecondition(`exec in pod VM: ${e.message}`) : e;
  });
  const execId = started.exec_id;
  const stream = s;
  return {
    stdin: opts.stdin ? stdinWritable(stream, () => stream.close()) : undefined,
    stdout,
    stderr,
    resize: opts.tty ? resizer(agent, id, execId) : undefined,
    wait: () => exited,
    kill: () => {
      void agent.call('signal_exec', { exec_id: execId, signal: SIGKILL }).catch(() => undefined); // the VM may be gone: the exec ends with the channel either way
    },
  };
}

/**
 * The container's live output from now on and its stdin (when created with stdin); the session ends
 * when the container exits (the agent closes the stream) or the client detaches (kill()).
 */
export async function attachInGuest(agent: AgentClient, id: string, stdinOnce: boolean, opts: StdioOptions): Promise<ProcessStdio> {
  const stdout = opts.stdout ? new PassThrough() : undefined;
  const stderr = opts.stderr && !opts.tty ? new PassThrough() : undefined;
  let resolveEnd!: (r: { exitCode?: number }) => void;
  const ended = new Promise<{ exitCode?: number }>((r) => (resolveEnd = r));
  let s: OpenStream | undefined;
  const toOut = outputSink(() => s, stdout);
  const toErr = outputSink(() => s, stderr);
  s = agent.openStream(
    'attach',
    { container_id: id, stdin: opts.stdin, stdout: opts.stdout, stderr: opts.stderr, stdin_once: !!stdinOnce },
    {
      onData: (fd, b) => (fd === 2 ? toErr : toOut)(b),
      onClose: () => {
        stdout?.end();
        stderr?.end();
        resolveEnd({});
      },
    },
  );
  await s.response.catch((e: unknown) => {
    throw e instanceof AgentError ? failedPrecondition(`attach in pod VM: ${e.message}`) : e;
  });
  const stream = s;
  return {
    // stdin EOF is an empty fd-0 DATA frame (the attach goes on; CLOSE would detach).
    stdin: opts.stdin ? stdinWritable(stream, () => stream.write(0, Buffer.alloc(0))) : undefined,
    stdout,
    stderr,
    resize: opts.tty ? resizer(agent, id, '') : undefined,
    wait: () => ended,
    kill: () => {
      stream.close();
      stdout?.end();
      stderr?.end();
      resolveEnd({});
    },
  };
}

/** A TCP stream the agent opens to 127.0.0.1:port inside the guest. */
export function portForwardInGuest(agent: AgentClient, port: number): Duplex {
  let s: OpenStream | undefined;
  const duplex = new Duplex({
    read() {
      s?.resume();
    },
    write(chunk: Buffer, _enc, cb) {
      // The agent only accepts data once it is connected (after the response).
      ready.then(() => (s!.write(0, chunk) ? cb() : s!.onDrain(() => cb())), cb);
    },
    final(cb) {
      ready.then(() => (s!.close(), cb()), () => cb());
    },
  });
  s = agent.openStream(
    'port_forward',
    { port },
    {
      onData: (_fd, b) => {
        if (!duplex.push(b)) s?.pause();
      },
      onClose: () => duplex.push(null),
    },
  );
  const ready = s.response.then(() => undefined);
  ready.catch((e: unknown) => duplex.destroy(e as Error));
  return duplex;
}
