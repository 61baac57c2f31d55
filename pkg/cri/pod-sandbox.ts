// RunPodSandbox, StopPodSandbox, RemovePodSandbox, PodSandboxStatus, ListPodSandbox.
import type { RuntimeHandlers } from '../grpc/handlers.js';
import { invalidArgument } from '../errors/errors.js';
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
      await Promise.all(inPod.map((c) => containers.refresh(c).catch(() => undefined))); // the pod status shows the containers as last known
      res.containers_statuses = inPod.map((c) => containers.toStatus(c));
      return res;
    },
    async ListPodSandbox(req) {
      return { items: sandboxes.list(req.filter) };
    },
    async UpdatePodSandboxResources(req) {
      // A VM pod that would have to grow fails as SandboxTooSmallError, a failed-precondition.
      await sandboxes.updateResources(req.pod_sandbox_id, req.resources, req.overhead);
      return {};
    },
  };
}
