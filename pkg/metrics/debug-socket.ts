// The debug control socket: <state>/debug.sock, mode 0600, owned by the daemon's user (root).
// It used to be /debug/loglevel on the metrics TCP listener, "loopback only"; but loopback is
// every local user and every hostNetwork pod. A unix socket's mode is checked by the kernel at
// connect(), so 0600 means root only, with no authentication of our own to get wrong.
//
// The socket is bound inside a fresh 0700 directory, chmod'ed, then renamed into place: there is
// never a moment when it sits at its public path with the umask's mode, and no process-wide
// umask change (which would race the daemon's other file creation on the thread pool).
import { createServer, type Server } from 'node:http';
import { chmod, mkdtemp, rename, rm, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { handleDebugRequest, type AdminRoute } from './debug-handlers.js';
import { send } from './http-util.js';

export const DEBUG_SOCKET_NAME = 'debug.sock';
export const DEBUG_SOCKET_MODE = 0o600;

export interface DebugSocket {
  readonly path: string;
  close(): Promise<void>;
}

export async function startDebugSocket(opts: { path: string; log: Logger; routes?: readonly AdminRoute[] }): Promise<DebugSocket> {
  const { path, log } = opts;
  const server: Server = createServer((req, res) => {
    handleDebugRequest(req, res, log, opts.routes).catch((e: unknown) => {
      log.warn({ err: e, url: req.url }, 'debug socket request failed');
      if (!res.headersSent) send(res, 500, 'internal error\n');
      else res.destroy();
    });
  });
  // An image import streams a multi-GB body: node's default 5-minute request timeout would cut
  // it. Only root can connect, so there is no slow-client attack to guard against here.
  server.requestTimeout = 0;
  // Short names: a unix socket path has 107 bytes, and the staging path is what gets bound.
  const staging = await mkdtemp(join(dirname(path), '.dbg-'));
  try {
    const tmp = join(staging, 's');
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(tmp, () => {
        server.off('error', reject);
        resolve();
      });
    });
    await chmod(tmp, DEBUG_SOCKET_MODE);
    await rename(tmp, path); // replaces a stale socket from a previous run
  } catch (e) {
    server.close();
    throw e;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  log.info({ path }, 'debug socket serving');
  return {
    path,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        // The listener was bound under the staging name, so close() does not unlink the public one.
        unlink(path).catch(() => undefined);
      }),
  };
}
