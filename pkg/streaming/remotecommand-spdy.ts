// Exec/attach over SPDY: the client opens one stream per channel, named by the `streamType`
// header (error, stdin, stdout, stderr, resize). As kubelet does, we reply to each stream at
// once and start when every expected stream has arrived (resize only for tty on v3+).
import type { StdioOptions } from './backend.js';
import { encodeStatus, PROTOCOL_V1, PROTOCOL_V2, type CommandChannels, type K8sStatus } from './remotecommand.js';
import type { SpdySession, SpdyStream } from './spdy.js';

/** kubelet's streamCreationTimeout. */
export const STREAM_CREATION_TIMEOUT_MS = 30_000;

export function spdyCommandChannels(session: SpdySession, protocol: string, opts: StdioOptions, timeoutMs = STREAM_CREATION_TIMEOUT_MS): Promise<CommandChannels> {
  const wantResize = opts.tty && protocol !== '' && protocol !== PROTOCOL_V1 && protocol !== PROTOCOL_V2;
  const expected = 1 + (opts.stdin ? 1 : 0) + (opts.stdout ? 1 : 0) + (opts.stderr && !opts.tty ? 1 : 0) + (wantResize ? 1 : 0);
  const byType = new Map<string, SpdyStream>();

  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out waiting for client streams (got ${[...byType.keys()].join(',') || 'none'})`));
    }, timeoutMs);
    const onClose = (): void => {
      cleanup();
      reject(new Error('connection closed before all streams were created'));
    };
    const onStream = (s: SpdyStream): void => {
      s.reply();
      const type = s.header('streamtype') ?? '';
      if (!['error', 'stdin', 'stdout', 'stderr', 'resize'].includes(type) || byType.has(type)) {
        s.reset();
        return;
      }
      s.on('error', () => undefined);
      byType.set(type, s);
      if (byType.size >= expected && byType.has('error')) {
        cleanup();
        resolve(makeChannels(session, protocol, byType));
      }
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      session.off('stream', onStream);
      session.off('close', onClose);
    };
    session.on('stream', onStream);
    session.on('close', onClose);
  });
}

function makeChannels(session: SpdySession, protocol: string, byType: Map<string, SpdyStream>): CommandChannels {
  const error = byType.get('error')!;
  // The client never writes to the error stream; drain it so its FIN is seen.
  error.resume();
  let finished = false;
  const gone = new Promise<void>((resolve) => session.once('close', () => (finished ? undefined : resolve())));
  return {
    protocol,
    stdin: byType.get('stdin'),
    stdout: byType.get('stdout'),
    stderr: byType.get('stderr'),
    resize: byType.get('resize'),
    gone,
    async finish(status: K8sStatus): Promise<void> {
      if (finished || session.isClosed) return;
      finished = true;
      const msg = encodeStatus(protocol, status);
      // kubelet's order: the status first, then every stream ends. (v1 clients stop at the first
      // of "error stream ended" and "all output ended", so a v1 client may still miss it, as with
      // kubelet.)
      if (msg) error.write(msg);
      const errorDone = endStream(error);
      await Promise.all([...(['stdout', 'stderr'] as const).map((t) => endStream(byType.get(t))), errorDone]);
      // GOAWAY + end the socket after everything queued so far; the client reads to EOF.
      session.goAway();
    },
  };
}

/** Ends a stream (FIN after its queued data) and resolves once that is handed to the transport. */
function endStream(s: SpdyStream | undefined): Promise<void> {
  if (!s || s.destroyed || s.writableFinished) return Promise.resolve();
  return new Promise((resolve) => {
    s.once('close', resolve);
    s.once('error', () => resolve());
    s.end(() => resolve());
  });
}
