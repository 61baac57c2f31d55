// The `bulkhead loglevel` side of the daemon's debug socket (pkg/metrics/debug-socket.ts):
// plain HTTP over <state>/debug.sock, which only root can connect to.
import { request } from 'node:http';
import { join } from 'node:path';
import { loadConfig, validateConfig } from '../config/load.js';
import { DEBUG_SOCKET_NAME } from '../metrics/debug-socket.js';

export interface DebugReply {
  status: number;
  body: string;
}

/** The socket of the daemon configured in configPath (defaults when the file can't be read). */
export function debugSocketPath(configPath: string | undefined): string {
  let state: string;
  try {
    state = loadConfig(configPath).state;
  } catch {
    state = validateConfig({}).state;
  }
  return join(state, DEBUG_SOCKET_NAME);
}

export function debugRequest(socketPath: string, method: 'GET' | 'PUT' | 'POST', path: string, body = '', timeoutMs = 3000): Promise<DebugReply> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method, path, timeout: timeoutMs, headers: { 'content-length': Buffer.byteLength(body) } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer from ${socketPath} in ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}
