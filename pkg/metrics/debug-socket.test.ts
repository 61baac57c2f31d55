import { describe, expect, test } from 'vitest';
import { existsSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { DEBUG_SOCKET_NAME, startDebugSocket } from './debug-socket.js';
import { debugRequest } from '../ops/debug-client.js';

describe('debug socket', () => {
  test('a 0600 unix socket serving /debug/loglevel, replacing a stale one, removed on close', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'bh-dbg-'));
    const path = join(dir, DEBUG_SOCKET_NAME);
    writeFileSync(path, 'stale');
    const log = pino({ level: 'info' }, { write: () => undefined });
    const sock = await startDebugSocket({ path, log });
    try {
      const st = statSync(path);
      expect(st.isSocket()).toBe(true);
      expect(st.mode & 0o777).toBe(0o600);
      expect(await debugRequest(path, 'GET', '/debug/loglevel')).toEqual({ status: 200, body: 'info\n' });
      expect(await debugRequest(path, 'PUT', '/debug/loglevel', '{"level":"debug"}')).toEqual({ status: 200, body: 'debug\n' });
      expect(log.level).toBe('debug');
      expect((await debugRequest(path, 'PUT', '/debug/loglevel', 'verbose')).status).toBe(400);
      expect((await debugRequest(path, 'GET', '/metrics')).status).toBe(404);
    } finally {
      await sock.close();
    }
    await new Promise((r) => setTimeout(r, 10));
    expect(existsSync(path)).toBe(false);
  });
});
