// RunPodSandbox, StopPodSandbox, RemovePodSandbox, PodSandboxStatus, ListPodSandbox.
import type { RuntimeHandlers } from '../grpc/handlers.js';
import { failedPrecondition, invalidArgument } from '../grpc/errors.js';
import { SandboxTooSmallError } from '../runtime/sandbox-too-small.js';
import type { SandboxManager } from '../sandbox/sandbox-manager.js';
import type { ContainerManager } from '../container/container-manager.js';

export function podSandboxHandlers(
  sandboxes: SandboxManager,
  containers: ContainerManager,
): Pick<RuntimeHandlers, 'RunPodSandbox' | 'StopPodSandbox' | 'RemovePodSandbox' | 'PodSandboxStatus' | 'ListPodSandbox' | 'UpdatePodSandboxResources'> {
  return {
    async RunPodSandbox(req, ctx) {
      if (!req.config) throw invalidArgument('config must be set');
      const id = await sandboxes.run(req.config, req.runtime_handler, ctx.log);
      return { pod_sandbox_id: id };
    },
    async StopPodSandbox(req, ctx) {
      if (!req.pod_sandbox_id) throw invalidArgument('pod_sandbox_id must not be empty');
      await sandboxes.stop(req.pod_sandbox_id, ctx.log);
      return {};
    },
    async RemovePodSandbox(req, ctx) {
      if (!req.pod_sandbox_id) throw invalidArgument('pod_sandbox_id must not be empty');
      await sandboxes.remove(req.pod_sandbox_id, ctx.log);
      return {};
    },
    async PodSandboxStatus(req) {
      const sb = sandboxes.get(req.pod_sandbox_id);
      const res = sandboxes.status(sb, req.verbose);
      const inPod = containers.inPod(sb.id);
      await Promise.all(inPod.map((c) => containers.refresh(c).catch(() => undefined)));
      res.containers_statuses = inPod.map((c) => containers.toStatus(c));
      return res;
    },
    async ListPodSandbox(req) {
      return { items: sandboxes.list(req.filter) };
    },
    async UpdatePodSandboxResources(req) {
      try {
        await sandboxes.updateResources(req.pod_sandbox_id, req.resources, req.overhead);
      } catch (e) {
        // Valid resources the pod's sandbox cannot grow to (a micro-VM keeps its boot size).
        if (e instanceof SandboxTooSmallError) throw failedPrecondition(e.message, e);
        throw e;
      }
      return {};
    },
  };
}
