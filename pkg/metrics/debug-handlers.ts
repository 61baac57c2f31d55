// What the debug socket serves (pkg/metrics/debug-socket.ts):
//   GET /debug/loglevel        the current log level
//   PUT|POST /debug/loglevel   body "debug" (or {"level":"debug"}): sets it until the next SIGHUP
//                              reload or restart (the config file stays the source of truth)
//   plus the admin routes subsystems register (e.g. POST /images/import, pkg/daemon/image-admin.ts)
// Only reachable through the root-only unix socket: these change what the daemon does.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { LOG_LEVELS, type LogLevel } from '../log/logger.js';
import { readBody, send } from './http-util.js';

export const DEBUG_PATH_PREFIX = '/debug/';

export function parseLevel(body: string): LogLevel | undefined {
  let v = body.trim();
  if (v.startsWith('{')) {
    try {
      v = String((JSON.parse(v) as { level?: unknown }).level ?? '');
    } catch {
      return undefined;
    }
  }
  return (LOG_LEVELS as readonly string[]).includes(v) ? (v as LogLevel) : undefined;
}

/** An extra route on the debug socket: exact path; the handler checks the method itself. */
export interface AdminRoute {
  path: string;
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

/** Serves one debug request. */
export async function handleDebugRequest(req: IncomingMessage, res: ServerResponse, log: Logger, routes: readonly AdminRoute[] = []): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  const route = routes.find((r) => r.path === path);
  if (route) return route.handle(req, res);
  if (path !== '/debug/loglevel') return send(res, 404, 'not found\n');
  if (req.method === 'GET') return send(res, 200, `${log.level}\n`);
  if (req.method !== 'PUT' && req.method !== 'POST') return send(res, 405, 'GET or PUT\n');
  const level = parseLevel(await readBody(req));
  if (!level) return send(res, 400, `expected one of: ${LOG_LEVELS.join(' ')}\n`);
  const previous = log.level;
  // Logged under whichever of the two levels is more verbose, so the change itself is always visible.
  const announce = (): void => log.info({ previous, level, via: 'debug socket' }, 'log level changed');
  const quieter = (log.levels.values[level] ?? Infinity) > (log.levels.values[previous] ?? 0);
  if (quieter) announce();
  log.level = level;
  if (!quieter) announce();
  return send(res, 200, `${level}\n`);
}
