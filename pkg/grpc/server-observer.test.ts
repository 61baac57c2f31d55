// The CriServer's metrics hook and log lines, through a real socket in a temp dir.
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { CriServer } from './server.js';
import { notFound } from '../errors/errors.js';
import { loadCri } from '../api/cri.js';
import { BulkheadMetrics } from '../metrics/registry.js';
import { parseExposition, sumSamples } from '../metrics/exposition.js';

const POD = 'a'.repeat(64);
const CTR = 'b'.repeat(64);

describe('CriServer observer + log ids', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bulkhead-server-obs-'));
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as Record<string, unknown>) });
  const metrics = new BulkheadMetrics();
  const server = new CriServer({
    address: join(dir, 's.sock'),
    log,
    observer: metrics.rpcObserver(),
    runtime: {
      RunPodSandbox: async () => ({ pod_sandbox_id: POD }),
      CreateContainer: async () => ({ container_id: CTR }),
      StopPodSandbox: async (req) => {
        throw notFound(`pod ${req.pod_sandbox_id} not found`);
      },
    },
    image: {},
  });
  let client: grpc.Client & Record<string, (req: unknown, cb: (e: grpc.ServiceError | null) => void) => void>;

  beforeAll(async () => {
    await server.listen();
    client = new (loadCri().runtime.v1.RuntimeService)(`unix://${join(dir, 's.sock')}`, grpc.credentials.createInsecure()) as unknown as typeof client;
  });
  afterAll(async () => {
    client.close();
    await server.shutdown(100);
    rmSync(dir, { recursive: true, force: true });
  });
  const call = (m: string, req: unknown) => new Promise<grpc.status>((res) => client[m]!(req, (e) => res(e ? e.code : grpc.status.OK)));

  test('created ids land on the creating RPC line; request ids on the others; metrics count every code', async () => {
    expect(await call('RunPodSandbox', { config: { metadata: { name: 'web', namespace: 'default' } } })).toBe(grpc.status.OK);
    expect(await call('CreateContainer', { pod_sandbox_id: POD, config: { metadata: { name: 'nginx' } } })).toBe(grpc.status.OK);
    expect(await call('StopPodSandbox', { pod_sandbox_id: POD })).toBe(grpc.status.NOT_FOUND);
    expect(await call('Attach', { container_id: CTR })).toBe(grpc.status.UNIMPLEMENTED);

    const rpc = (m: string) => lines.find((l) => l.msg === 'rpc' && l.rpc === m)!;
    expect(rpc('RunPodSandbox')).toMatchObject({ code: 'OK', pod_sandbox_id: POD, name: 'web', namespace: 'default' });
    expect(rpc('CreateContainer')).toMatchObject({ code: 'OK', pod_sandbox_id: POD, container_id: CTR, name: 'nginx' });
    expect(rpc('StopPodSandbox')).toMatchObject({ code: 'NOT_FOUND', pod_sandbox_id: POD });
    expect(rpc('Attach')).toMatchObject({ code: 'UNIMPLEMENTED', container_id: CTR });
    // grep by pod id finds its whole life
    expect(lines.filter((l) => JSON.stringify(l).includes(POD)).map((l) => l.rpc)).toEqual(['RunPodSandbox', 'CreateContainer', 'StopPodSandbox']);

    const f = parseExposition(await metrics.text());
    expect(sumSamples(f.get('bulkhead_grpc_requests_total'), { service: 'RuntimeService' })).toBe(4);
    expect(sumSamples(f.get('bulkhead_grpc_errors_total'), { method: 'StopPodSandbox', code: 'NOT_FOUND' })).toBe(1);
    expect(sumSamples(f.get('bulkhead_grpc_errors_total'), { method: 'Attach', code: 'UNIMPLEMENTED' })).toBe(1);
  });
});
