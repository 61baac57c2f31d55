// The streaming HTTP server kubelet (and crictl/critest) connect to: /exec/<token>,
// /attach/<token>, /portforward/<token>. Each token names a request validated by the CRI
// call and is redeemed once. The connection is upgraded to SPDY/3.1 (X-Stream-Protocol-Version
// negotiation) or to a WebSocket (channel protocols, or SPDY tunnelled over WebSocket for
// port-forward).
import http from 'node:http';
import type { Duplex } from 'node:stream';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { WebSocketServer, createWebSocketStream, type WebSocket } from 'ws';
import type { StreamingBackend } from './backend.js';
import { TokenCache, type StreamRequest } from './tokens.js';
import { SpdySession } from './spdy.js';
import { runRemoteCommand, SPDY_REMOTECOMMAND_PROTOCOLS, type CommandChannels } from './remotecommand.js';
import { spdyCommandChannels } from './remotecommand-spdy.js';
import { WS_MAX_PAYLOAD, WS_REMOTECOMMAND_PROTOCOLS, wsCommandChannels } from './websocket.js';
import { PORTFORWARD_PROTOCOL, servePortForwardSpdy } from './portforward.js';
import { servePortForwardWebSocket, WS_PORTFORWARD_PROTOCOLS } from './portforward-ws.js';

export const SPDY_TUNNEL_PREFIX = 'SPDY/3.1+';

export interface StreamingServerOptions {
  address: string;
  port: number;
  tokenTtlSeconds: number;
  backend: StreamingBackend;
  log: Logger;
}

/** Splits repeated/comma-joined header values into a clean list. */
export function headerList(v: string | string[] | undefined): string[] {
  const all = Array.isArray(v) ? v : v === undefined ? [] : [v];
  return all.flatMap((x) => x.split(',')).map((x) => x.trim()).filter(Boolean);
}

/** kubelet's httpstream.Handshake: the first client protocol the server supports; '' when the client names none. */
export function negotiate(clientProtocols: string[], serverProtocols: string[]): string | undefined {
  if (clientProtocols.length === 0) return '';
  return clientProtocols.find((p) => serverProtocols.includes(p));
}

export class StreamingServer {
  private readonly http: http.Server;
  private readonly tokens: TokenCache;
  private readonly sockets = new Set<Duplex>();
  private readonly opts: StreamingServerOptions;
  private boundPort = 0;

  constructor(opts: StreamingServerOptions) {
    this.opts = opts;
    this.tokens = new TokenCache(opts.tokenTtlSeconds * 1000);
    this.http = http.createServer((req, res) => this.onPlainRequest(req, res));
    this.http.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => this.onUpgrade(req, socket, head));
    this.http.on('connection', (s) => {
      this.sockets.add(s);
      s.once('close', () => this.sockets.delete(s));
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(this.opts.port, this.opts.address, () => {
        this.http.off('error', reject);
        resolve();
      });
    });
    this.boundPort = (this.http.address() as AddressInfo).port;
    this.opts.log.info({ url: this.baseUrl }, 'streaming server listening');
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }

  get baseUrl(): string {
    const host = this.opts.address.includes(':') ? `[${this.opts.address}]` : this.opts.address;
    return `http://${host}:${this.boundPort}`;
  }

  /** Registers a validated request and returns the URL the client must open. */
  register(req: StreamRequest): string {
    const token = this.tokens.insert(req);
    return `${this.baseUrl}/${req.kind}/${token}`;
  }

  private route(url: string | undefined): { kind: string; token: string } | undefined {
    const m = /^\/(exec|attach|portforward)\/([A-Za-z0-9_-]+)\/?(?:\?.*)?$/.exec(url ?? '');
    return m ? { kind: m[1]!, token: m[2]! } : undefined;
  }

  private onPlainRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const r = this.route(req.url);
    const sreq = r ? this.tokens.consume(r.token) : undefined;
    if (!r || !sreq || sreq.kind !== r.kind) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('404 page not found\n');
      return;
    }
    res.writeHead(400, { 'Content-Type': 'text/plain' }).end('Upgrade request required\n');
  }

  private onUpgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => undefined);
    const r = this.route(req.url);
    const sreq = r ? this.tokens.consume(r.token) : undefined;
    if (!r || !sreq || sreq.kind !== r.kind) return reject(socket, 404, '404 page not found');
    const log = this.opts.log.child(
      sreq.kind === 'portforward' ? { stream: 'portforward', podId: sreq.podSandboxId } : { stream: sreq.kind, containerId: sreq.containerId },
    );
    const upgrade = (req.headers.upgrade ?? '').toLowerCase();
    if (upgrade === 'websocket') return this.onWebSocket(req, socket, head, sreq, log);
    if (upgrade.startsWith('spdy/3.1')) return this.onSpdy(req, socket, head, sreq, log);
    return reject(socket, 400, `unsupported upgrade "${req.headers.upgrade ?? ''}"`);
  }

  private onSpdy(req: http.IncomingMessage, socket: Duplex, head: Buffer, sreq: StreamRequest, log: Logger): void {
    const server = sreq.kind === 'portforward' ? [PORTFORWARD_PROTOCOL] : SPDY_REMOTECOMMAND_PROTOCOLS;
    const client = headerList(req.headers['x-stream-protocol-version']);
    const protocol = negotiate(client, server);
    if (protocol === undefined) {
      return reject(socket, 403, `unable to upgrade: unable to negotiate protocol: client supports ${JSON.stringify(client)}, server supports ${JSON.stringify(server)}`, {
        'X-Accepted-Stream-Protocol-Versions': server.join(', '),
      });
    }
    socket.write(
      'HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n' +
        (protocol ? `X-Stream-Protocol-Version: ${protocol}\r\n` : '') +
        '\r\n',
    );
    if (head.length) socket.unshift(head);
    const session = new SpdySession(socket, log);
    log.info({ protocol, transport: 'spdy' }, 'streaming session started');
    this.serveSpdySession(session, protocol, sreq, log);
  }

  private serveSpdySession(session: SpdySession, protocol: string, sreq: StreamRequest, log: Logger): void {
    if (sreq.kind === 'portforward') {
      servePortForwardSpdy(session, (port) => this.dialChecked(sreq, port), sreq.podSandboxId, log);
      return;
    }
    spdyCommandChannels(session, protocol, sreq).then(
      (ch) => this.runCommand(ch, sreq, log),
      (e: unknown) => {
        log.warn({ err: e }, 'streaming session setup failed');
        session.close();
      },
    );
  }

  private onWebSocket(req: http.IncomingMessage, socket: Duplex, head: Buffer, sreq: StreamRequest, log: Logger): void {
    const offered = headerList(req.headers['sec-websocket-protocol']);
    const tunnel = offered.find((p) => p.startsWith(SPDY_TUNNEL_PREFIX));
    let protocol: string | undefined;
    if (sreq.kind === 'portforward') {
      protocol = tunnel === `${SPDY_TUNNEL_PREFIX}${PORTFORWARD_PROTOCOL}` ? tunnel : negotiate(offered, WS_PORTFORWARD_PROTOCOLS);
    } else {
      protocol = negotiate(offered, WS_REMOTECOMMAND_PROTOCOLS);
    }
    if (protocol === undefined) {
      return reject(socket, 400, `requested protocol(s) are not supported: ${JSON.stringify(offered)}`);
    }
    const chosen = protocol;
    // ws answers with the subprotocol handleProtocols picks; we decided already. ws also rejects
    // offers that are not RFC 7230 tokens, and "SPDY/3.1+portforward.k8s.io" has a '/': hand it
    // a placeholder offer and answer with the real name (what the client asked for).
    if (chosen) req.headers['sec-websocket-protocol'] = 'negotiated';
    else delete req.headers['sec-websocket-protocol'];
    const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: WS_MAX_PAYLOAD, handleProtocols: () => chosen || false });
    wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      log.info({ protocol: chosen, transport: 'websocket' }, 'streaming session started');
      ws.on('error', (e) => log.debug({ err: e }, 'websocket error'));
      if (sreq.kind === 'portforward') {
        if (chosen.startsWith(SPDY_TUNNEL_PREFIX)) {
          const session = new SpdySession(createWebSocketStream(ws, { allowHalfOpen: false }), log);
          servePortForwardSpdy(session, (port) => this.dialChecked(sreq, port), sreq.podSandboxId, log);
        } else {
          servePortForwardWebSocket(ws, chosen, req.url ?? '', sreq.ports, (port) => this.dialChecked(sreq, port), sreq.podSandboxId, log);
        }
        return;
      }
      wsCommandChannels(ws, chosen, sreq).then(
        (ch) => this.runCommand(ch, sreq, log),
        (e: unknown) => {
          log.warn({ err: e }, 'streaming session setup failed');
          ws.terminate();
        },
      );
    });
  }

  private dialChecked(sreq: Extract<StreamRequest, { kind: 'portforward' }>, port: number): Promise<Duplex> {
    return this.opts.backend.portForward(sreq.podSandboxId, port);
  }

  private runCommand(ch: CommandChannels, sreq: Exclude<StreamRequest, { kind: 'portforward' }>, log: Logger): void {
    const b = this.opts.backend;
    const opts = { tty: sreq.tty, stdin: sreq.stdin, stdout: sreq.stdout, stderr: sreq.stderr && !sreq.tty };
    const start = sreq.kind === 'exec' ? () => b.exec(sreq.containerId, sreq.cmd, opts) : () => b.attach(sreq.containerId, opts);
    void runRemoteCommand(ch, start, { kind: sreq.kind, cmd: sreq.kind === 'exec' ? sreq.cmd : undefined }, log).catch((e: unknown) =>
      log.error({ err: e }, 'streaming session failed'),
    );
  }
}

function reject(socket: Duplex, code: number, message: string, headers: Record<string, string> = {}): void {
  const body = `${message}\n`;
  const extra = Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  socket.end(
    `HTTP/1.1 ${code} ${http.STATUS_CODES[code] ?? ''}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}Connection: close\r\n\r\n${body}`,
  );
}

