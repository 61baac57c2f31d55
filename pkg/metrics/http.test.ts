import { describe, expect, test } from 'vitest';
import { pino } from 'pino';
import { parseListenAddress, startOpsHttp } from './http.js';
import { BulkheadMetrics } from './registry.js';
import { parseExposition } from './exposition.js';

describe('ops http listener', () => {
  test('listen address forms', () => {
    expect(parseListenAddress('127.0.0.1:9464')).toEqual({ host: '127.0.0.1', port: 9464 });
    expect(parseListenAddress(':9464')).toEqual({ host: '0.0.0.0', port: 9464 });
    expect(parseListenAddress('[::1]:0')).toEqual({ host: '::1', port: 0 });
    expect(() => parseListenAddress('9464')).toThrow(/expected host:port/);
    expect(() => parseListenAddress('h:70000')).toThrow(/out of range/);
  });

  test('serves /metrics, and no debug controls, even to loopback clients', async () => {
    const m = new BulkheadMetrics();
    m.observePull(10, 0.1, true);
    const log = pino({ level: 'info' }, { write: () => undefined });
    const srv = await startOpsHttp({ address: '127.0.0.1:0', metrics: m, log });
    const base = `http://127.0.0.1:${srv.port}`;
    try {
      const res = await fetch(`${base}/metrics`);
      expect(res.status).toBe(200);
      expect(parseExposition(await res.text()).get('bulkhead_image_pulls_total')!.samples[0]!.value).toBe(1);
      // Loopback is every local user and hostNetwork pod: log level changes go through the debug socket.
      expect((await fetch(`${base}/debug/loglevel`, { method: 'PUT', body: '{"level":"debug"}' })).status).toBe(404);
      expect((await fetch(`${base}/debug/loglevel`, { method: 'POST', body: 'trace' })).status).toBe(404);
      expect((await fetch(`${base}/debug/loglevel`)).status).toBe(404);
      expect(log.level).toBe('info');
      expect((await fetch(`${base}/nope`)).status).toBe(404);
    } finally {
      await srv.close();
    }
  });
});
