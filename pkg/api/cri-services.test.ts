import { describe, it, expect } from 'vitest';
import { criServiceDefinitions } from './cri-services.js';
import { loadCri } from './cri.js';

describe('criServiceDefinitions', () => {
  const ours = criServiceDefinitions();
  const proto = loadCri().runtime.v1;

  it('has the same methods, paths and streaming flags as proto-loader', () => {
    for (const [name, theirs] of [['RuntimeService', proto.RuntimeService.service], ['ImageService', proto.ImageService.service]] as const) {
      const mine = ours[name];
      expect(Object.keys(mine).sort()).toEqual(Object.keys(theirs).sort());
      for (const [m, d] of Object.entries(theirs)) {
        expect(mine[m]!.path).toBe(d.path);
        expect(mine[m]!.requestStream).toBe(d.requestStream);
        expect(mine[m]!.responseStream).toBe(d.responseStream);
        expect(mine[m]!.originalName).toBe(d.originalName);
      }
    }
  });

  it('encodes and decodes like proto-loader (snake_case, int64 as strings, enums as names, defaults, oneofs)', () => {
    const req = { config: { metadata: { name: 'p', uid: 'u', namespace: 'n', attempt: 1 }, linux: { resources: { memory_limit_in_bytes: '9007199254740993' } }, labels: { a: 'b' } }, runtime_handler: 'runc' };
    const mine = ours.RuntimeService.RunPodSandbox!;
    const theirs = proto.RuntimeService.service.RunPodSandbox;
    const bytes = mine.requestSerialize(req);
    expect(Buffer.compare(bytes, theirs.requestSerialize(req))).toBe(0);
    expect(mine.requestDeserialize(bytes)).toEqual(theirs.requestDeserialize(bytes));
    const status = { status: { id: 'x', state: 'SANDBOX_READY', created_at: '1733443200000000000', network: { ip: '10.0.0.2', additional_ips: [] } } };
    const st = ours.RuntimeService.PodSandboxStatus!;
    const sb = st.responseSerialize(status);
    expect(Buffer.compare(sb, proto.RuntimeService.service.PodSandboxStatus.responseSerialize(status as never))).toBe(0);
    const decoded = st.responseDeserialize(sb) as { status: { state: string; created_at: string } };
    expect(decoded).toEqual(proto.RuntimeService.service.PodSandboxStatus.responseDeserialize(sb));
    expect(decoded.status.state).toBe('SANDBOX_READY');
    expect(decoded.status.created_at).toBe('1733443200000000000');
  });
});
