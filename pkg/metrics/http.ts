// The optional metrics HTTP listener (config metrics.address, empty = off):
//   GET /metrics          Prometheus text exposition
// Nothing else: it has no authentication and ":port" binds every interface, so it only reads.
// The debug controls (/debug/loglevel) live on the root-only unix socket (debug-socket.ts) and
// answer 404 here.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { send } from './http-util.js';
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

export async function startOpsHttp(opts: OpsHttpOptions): Promise<OpsHttpServer> {
  const { host, port } = parseListenAddress(opts.address);
  const { log, metrics } = opts;
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/metrics' && (req.method === 'GET' || req.method === 'HEAD')) {
      return send(res, 200, await metrics.text(), metrics.contentType);
    }
    if (path === '/' && req.method === 'GET') return send(res, 200, 'bulkhead: /metrics\n');
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
