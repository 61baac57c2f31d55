// The optional operations HTTP listener (config metrics.address, empty = off):
//   GET /metrics          Prometheus text exposition
//   GET /debug/loglevel   the current log level
//   PUT|POST /debug/loglevel  body "debug" (or {"level":"debug"}): sets it at runtime; loopback clients only,
//                         since the listener may be bound to a routable address and has no authentication.
// The level set here lasts until the next SIGHUP reload or restart (the config file stays the source of truth).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { LOG_LEVELS, type LogLevel } from '../log/logger.js';
import type { BulkheadMetrics } from './registry.js';

export interface OpsHttpOptions {
  /** "host:port", "[v6]:port" or ":port" (all interfaces). Port 0 picks a free one. */
  address: string;
  metrics: BulkheadMetrics;
  log: Logger;
}

export interface OpsHttpServer {
  /** The bound port (useful when the configured port was 0). */
  readonly port: number;
  readonly host: string;
  close(): Promise<void>;
}

/** Splits "host:port" / "[::1]:port" / ":port"; throws on anything else. */
export function parseListenAddress(address: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(address.trim());
  if (!m) throw new Error(`metrics.address "${address}": expected host:port, [ipv6]:port or :port`);
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`metrics.address "${address}": port out of range`);
  return { host: m[1] ?? (m[2] || '0.0.0.0'), port };
}

function isLoopback(addr: string | undefined): boolean {
  return !!addr && (addr === '::1' || addr.startsWith('127.') || addr.startsWith('::ffff:127.'));
}

async function readBody(req: IncomingMessage, limit = 1024): Promise<string> {
  let body = '';
  for await (const chunk of req) {
    body += String(chunk);
    if (body.length > limit) throw new Error('body too large');
  }
  return body;
}

function parseLevel(body: string): LogLevel | undefined {
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

function send(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

export async function startOpsHttp(opts: OpsHttpOptions): Promise<OpsHttpServer> {
  const { host, port } = parseListenAddress(opts.address);
  const { log, metrics } = opts;
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics' && (req.method === 'GET' || req.method === 'HEAD')) {
      return send(res, 200, await metrics.text(), metrics.contentType);
    }
    if (path === '/debug/loglevel') {
      if (req.method === 'GET') return send(res, 200, `${log.level}\n`);
      if (req.method === 'PUT' || req.method === 'POST') {
        if (!isLoopback(req.socket.remoteAddress)) return send(res, 403, 'log level changes are accepted from loopback only\n');
        const level = parseLevel(await readBody(req));
        if (!level) return send(res, 400, `expected one of: ${LOG_LEVELS.join(' ')}\n`);
        const previous = log.level;
        // Logged under whichever of the two levels is more verbose, so the change itself is always visible.
        const announce = () => log.info({ previous, level, via: 'http' }, 'log level changed');
        const quieter = (log.levels.values[level] ?? Infinity) > (log.levels.values[previous] ?? 0);
        if (quieter) announce();
        log.level = level;
        if (!quieter) announce();
        return send(res, 200, `${level}\n`);
      }
      return send(res, 405, 'GET or PUT\n');
    }
    if (path === '/' && req.method === 'GET') return send(res, 200, 'bulkhead: /metrics /debug/loglevel\n');
    return send(res, 404, 'not found\n');
  };
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      log.warn({ err: e, url: req.url }, 'ops http request failed');
      if (!res.headersSent) send(res, 500, 'internal error\n');
      else res.destroy();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  log.info({ address: `${host}:${bound}` }, 'metrics endpoint serving');
  return {
    port: bound,
    host,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
