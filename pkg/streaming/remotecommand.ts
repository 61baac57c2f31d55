// The exec/attach ("remote command") protocol, independent of transport: SPDY streams and
// WebSocket channels both become a CommandChannels, and runRemoteCommand wires it to a
// backend process. Channel and status rules follow k8s.io/client-go/tools/remotecommand
// (v1–v5) and kubelet's cri-streaming server.
import type { Readable, Writable } from 'node:stream';
import type { Logger } from 'pino';
import type { ProcessStdio } from './backend.js';

export const PROTOCOL_V1 = 'channel.k8s.io';
export const PROTOCOL_V2 = 'v2.channel.k8s.io';
export const PROTOCOL_V3 = 'v3.channel.k8s.io';
export const PROTOCOL_V4 = 'v4.channel.k8s.io';
export const PROTOCOL_V5 = 'v5.channel.k8s.io';
/** Server preference order is irrelevant: the client's first supported choice wins (kubelet's handshake). */
export const SPDY_REMOTECOMMAND_PROTOCOLS = [PROTOCOL_V5, PROTOCOL_V4, PROTOCOL_V3, PROTOCOL_V2, PROTOCOL_V1];

/** Kubernetes metav1.Status, as much of it as the error channel uses. */
export interface K8sStatus {
  metadata: Record<string, never>;
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  details?: { causes: { reason?: string; message: string }[] };
  code?: number;
}

export function successStatus(): K8sStatus {
  return { metadata: {}, status: 'Success' };
}

export function exitCodeStatus(cmd: string[], exitCode: number): K8sStatus {
  return {
    metadata: {},
    status: 'Failure',
    message: `command terminated with non-zero exit code: error executing command [${cmd.join(' ')}], exit code ${exitCode}`,
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(exitCode) }] },
  };
}

export function internalErrorStatus(message: string): K8sStatus {
  return {
    metadata: {},
    status: 'Failure',
    message: `Internal error occurred: ${message}`,
    reason: 'InternalError',
    details: { causes: [{ message }] },
    code: 500,
  };
}

/** v4+ send the Status as JSON; v1–v3 send only a failure's message as plain text (nothing on success). */
export function encodeStatus(protocol: string, status: K8sStatus): Buffer | undefined {
  if (usesJsonStatus(protocol)) return Buffer.from(JSON.stringify(status));
  return status.status === 'Success' ? undefined : Buffer.from(status.message ?? 'unknown error');
}

export function usesJsonStatus(protocol: string): boolean {
  return protocol.startsWith('v4.') || protocol.startsWith('v5.');
}

/** Resize messages are JSON objects {"Width":w,"Height":h}, one per line (Go's json.Encoder). */
export class ResizeDecoder {
  private pending = '';
  push(chunk: Buffer): { width: number; height: number }[] {
    this.pending += chunk.toString('utf8');
    const lines = this.pending.split('\n');
    this.pending = lines.pop() ?? '';
    // A WebSocket message may hold one object without the trailing newline.
    if (this.pending.trim().endsWith('}')) {
      lines.push(this.pending);
      this.pending = '';
    }
    const out: { width: number; height: number }[] = [];
    for (const raw of lines) {
      const line = raw.trim();
      if (!line) continue;
      try {
        const v = JSON.parse(line) as { Width?: unknown; Height?: unknown };
        if (typeof v.Width === 'number' && typeof v.Height === 'number') out.push({ width: v.Width, height: v.Height });
      } catch {
        // A malformed message is dropped, like kubelet does.
      }
    }
    if (this.pending.length > 4096) this.pending = '';
    return out;
  }
}

/** What a transport hands the protocol: the client's streams, already negotiated. */
export interface CommandChannels {
  protocol: string;
  stdin?: Readable;
  stdout?: Writable;
  stderr?: Writable;
  resize?: Readable;
  /** Sends the final status (or nothing), then closes everything in order. */
  finish(status: K8sStatus): Promise<void>;
  /** Resolves when the client went away (transport closed before finish). */
  readonly gone: Promise<void>;
}

/** Copies src into dst without ending dst; resolves when src is exhausted or either side fails. */
function pump(src: Readable, dst: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      src.unpipe(dst);
      resolve();
    };
    src.once('end', done);
    src.once('close', done);
    src.once('error', done);
    dst.once('error', done);
    dst.once('close', done);
    src.pipe(dst, { end: false });
  });
}

export async function runRemoteCommand(
  ch: CommandChannels,
  start: () => Promise<ProcessStdio>,
  describe: { kind: 'exec' | 'attach'; cmd?: string[] },
  log: Logger,
): Promise<void> {
  let proc: ProcessStdio;
  try {
    proc = await start();
  } catch (e) {
    log.warn({ err: e }, `${describe.kind} failed to start`);
    await ch.finish(internalErrorStatus((e as Error).message));
    return;
  }

  let clientGone = false;
  void ch.gone.then(() => {
    if (!clientGone) {
      clientGone = true;
      log.info(`${describe.kind} client went away; ${describe.kind === 'exec' ? 'killing the process' : 'detaching'}`);
      proc.kill();
    }
  });

  if (ch.stdin) {
    if (proc.stdin) {
      // EPIPE once the process is gone: keep draining the client's stdin so the transport,
      // which pauses for unread streams, keeps moving.
      const keepDraining = (): void => {
        ch.stdin?.unpipe();
        ch.stdin?.resume();
      };
      proc.stdin.on('error', keepDraining);
      proc.stdin.on('close', keepDraining);
      ch.stdin.pipe(proc.stdin);
    } else {
      ch.stdin.resume();
    }
  }
  if (ch.resize) {
    const dec = new ResizeDecoder();
    ch.resize.on('data', (c: Buffer) => {
      for (const r of dec.push(c)) proc.resize?.(r.width, r.height);
    });
    ch.resize.on('error', () => undefined);
  }
  const outputs: Promise<void>[] = [];
  if (proc.stdout) outputs.push(ch.stdout ? pump(proc.stdout, ch.stdout) : drain(proc.stdout));
  if (proc.stderr) outputs.push(ch.stderr ? pump(proc.stderr, ch.stderr) : drain(proc.stderr));

  let result: { exitCode?: number };
  try {
    result = await proc.wait();
    await outputsDrained(Promise.all(outputs), [proc.stdout, proc.stderr]);
  } catch (e) {
    if (!clientGone) await ch.finish(internalErrorStatus((e as Error).message));
    return;
  }
  if (clientGone) return;
  clientGone = true; // from here on, the transport closing is our own doing
  const code = result.exitCode;
  log.info({ exitCode: code }, `${describe.kind} finished`);
  await ch.finish(code === undefined || code === 0 ? successStatus() : exitCodeStatus(describe.cmd ?? [], code));
}

/** After the process exited, output that stays open but silent for this long is abandoned. */
export const EXITED_OUTPUT_IDLE_MS = 2000;

/**
 * Waits for the output copies to finish. A process's stdout can outlive it (a background child
 * inherited the pipe): once the process has exited, an output that is neither moving nor held
 * back by a slow client for EXITED_OUTPUT_IDLE_MS is closed, so the session can end.
 */
async function outputsDrained(done: Promise<unknown>, streams: (Readable | undefined)[]): Promise<void> {
  const live = streams.filter((s): s is Readable => !!s);
  let moved = false;
  const onData = (): void => void (moved = true);
  for (const s of live) s.on('data', onData);
  let timer: NodeJS.Timeout | undefined;
  const idle = new Promise<void>((resolve) => {
    timer = setInterval(() => {
      const backPressured = live.some((s) => s.readableFlowing === false || s.readableLength > 0);
      if (!moved && !backPressured) resolve();
      moved = false;
    }, EXITED_OUTPUT_IDLE_MS);
  });
  try {
    await Promise.race([done, idle]);
  } finally {
    clearInterval(timer);
    for (const s of live) {
      s.off('data', onData);
      if (!s.readableEnded) s.destroy();
    }
  }
}

function drain(r: Readable): Promise<void> {
  return new Promise((resolve) => {
    r.once('end', resolve);
    r.once('close', resolve);
    r.once('error', () => resolve());
    r.resume();
  });
}
