// A registry front that demands credentials, for auth tests: "basic" mode wants HTTP Basic on every
// request; "token" mode answers 401 with a Bearer challenge whose realm is its own /token endpoint,
// which hands out a token for valid Basic credentials (the Docker token flow).
import * as http from 'node:http';
import { randomBytes } from 'node:crypto';

export interface AuthProxy {
  host: string;
  /** Token requests seen (scope, service), to assert the flow ran. */
  tokenRequests: Array<{ scope: string | null; service: string | null }>;
  close(): Promise<void>;
}

export async function startAuthProxy(upstream: string, mode: 'basic' | 'token', user: string, pass: string): Promise<AuthProxy> {
  const token = randomBytes(16).toString('hex');
  const good = `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
  const tokenRequests: AuthProxy['tokenRequests'] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const self = `http://${req.headers.host}`;
    if (mode === 'token' && url.pathname === '/token') {
      tokenRequests.push({ scope: url.searchParams.get('scope'), service: url.searchParams.get('service') });
      if (req.headers.authorization !== good) {
        res.writeHead(401).end('bad credentials');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token, expires_in: 300 }));
      return;
    }
    const ok = mode === 'basic' ? req.headers.authorization === good : req.headers.authorization === `Bearer ${token}`;
    if (!ok) {
      const repo = /^\/v2\/(.+)\/(manifests|blobs)\//.exec(url.pathname)?.[1];
      const challenge =
        mode === 'basic'
          ? 'Basic realm="test"'
          : `Bearer realm="${self}/token",service="test-registry"${repo ? `,scope="repository:${repo}:pull"` : ''}`;
      res.writeHead(401, { 'www-authenticate': challenge, 'content-type': 'application/json' }).end('{"errors":[{"code":"UNAUTHORIZED"}]}');
      return;
    }
    const up = http.request(`${upstream}${req.url}`, { method: req.method, headers: { ...req.headers, host: new URL(upstream).host, authorization: '' } }, (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.headers);
      ur.pipe(res);
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address() as { port: number };
  return {
    host: `127.0.0.1:${addr.port}`,
    tokenRequests,
    close: () => new Promise((r) => server.close(() => r())),
  };
}
