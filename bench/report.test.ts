import { describe, expect, it } from 'vitest';
import { primaryPeer, type Column } from './report.js';
import { forCrictl } from './scenarios/crictl-loop.js';

describe('primaryPeer', () => {
  const col = (name: Column['name'], missing?: string): Column => ({ name, label: name, ...(missing ? { missing } : {}) });
  it('is containerd 2.x when it ran, else the next peer that ran', () => {
    expect(primaryPeer([col('bulkhead'), col('containerd2'), col('crio'), col('containerd1')])?.name).toBe('containerd2');
    expect(primaryPeer([col('bulkhead'), col('containerd2', 'not built'), col('crio'), col('containerd1')])?.name).toBe('crio');
    expect(primaryPeer([col('bulkhead'), col('containerd1')])?.name).toBe('containerd1');
    expect(primaryPeer([col('bulkhead')])).toBeUndefined();
  });
});

describe('forCrictl', () => {
  it('writes enums and int64s as Go encoding/json wants them, bytes as strings', () => {
    const out = forCrictl({
      linux: { security_context: { namespace_options: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' } }, resources: { cpu_shares: '2', oom_score_adj: '1000' } },
      envs: [{ key: 'A', value: Buffer.from('b') }],
    });
    expect(out).toEqual({
      linux: { security_context: { namespace_options: { network: 0, pid: 1, ipc: 0 } }, resources: { cpu_shares: 2, oom_score_adj: 1000 } },
      envs: [{ key: 'A', value: 'b' }],
    });
  });
});
