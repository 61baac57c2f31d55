// The CRI edge answers a resource update the pod's sandbox cannot grow to with FAILED_PRECONDITION.
import { describe, expect, it } from 'vitest';
import { GrpcCode, toStatus } from '../grpc/errors.js';
import type { CallContext } from '../grpc/handlers.js';
import type { ContainerManager } from '../container/container-manager.js';
import type { SandboxManager } from '../sandbox/sandbox-manager.js';
import { SandboxTooSmallError } from '../runtime/sandbox-too-small.js';
import { containerHandlers } from './container.js';
import { podSandboxHandlers } from './pod-sandbox.js';

const ctx = {} as CallContext;
const tooSmall = async (): Promise<never> => {
  throw new SandboxTooSmallError('needs 656 MiB of guest memory but the VM has 556 MiB');
};

async function codeOf(p: Promise<unknown>): Promise<{ code: number; message: string }> {
  const e = await p.then(() => undefined, (x: unknown) => x);
  if (!(e instanceof Error)) throw new Error(`not an error: ${String(e)}`);
  const s = toStatus(e);
  return { code: s.code, message: s.details };
}

describe('SandboxTooSmallError at the CRI edge', () => {
  it('UpdateContainerResources → FAILED_PRECONDITION with the runtime message', async () => {
    const h = containerHandlers({ updateResources: tooSmall } as unknown as ContainerManager);
    const r = await codeOf(Promise.resolve(h.UpdateContainerResources!({ container_id: 'c', linux: null } as never, ctx)));
    expect(r.code).toBe(GrpcCode.FAILED_PRECONDITION);
    expect(r.message).toMatch(/556 MiB/);
  });

  it('UpdatePodSandboxResources → FAILED_PRECONDITION', async () => {
    const h = podSandboxHandlers({ updateResources: tooSmall } as unknown as SandboxManager, {} as ContainerManager);
    const r = await codeOf(Promise.resolve(h.UpdatePodSandboxResources!({ pod_sandbox_id: 'p', resources: null, overhead: null } as never, ctx)));
    expect(r.code).toBe(GrpcCode.FAILED_PRECONDITION);
  });

  it('other errors pass through unchanged', async () => {
    const boom = new Error('boom');
    const h = containerHandlers({ updateResources: async () => Promise.reject(boom) } as unknown as ContainerManager);
    await expect(h.UpdateContainerResources!({ container_id: 'c', linux: null } as never, ctx)).rejects.toBe(boom);
  });
});
