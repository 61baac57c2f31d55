// CreateContainer, StartContainer, StopContainer, RemoveContainer, ListContainers,
// ContainerStatus, UpdateContainerResources, ReopenContainerLog.
import type { RuntimeHandlers } from '../grpc/handlers.js';
import { failedPrecondition, invalidArgument, notFound } from '../errors/errors.js';
import { CdiError } from '../cdi/spec-file.js';
import type { ContainerManager } from '../container/container-manager.js';

type Names =
  | 'CreateContainer'
  | 'StartContainer'
  | 'StopContainer'
  | 'RemoveContainer'
  | 'ListContainers'
  | 'ContainerStatus'
  | 'UpdateContainerResources'
  | 'ReopenContainerLog';

export function containerHandlers(containers: ContainerManager): Pick<RuntimeHandlers, Names> {
  const need = (id: string) => {
    if (!id) throw invalidArgument('container_id must not be empty');
    return id;
  };
  return {
    async CreateContainer(req, ctx) {
      if (!req.config) throw invalidArgument('config must be set');
      try {
        return { container_id: await containers.create(req.pod_sandbox_id, req.config, ctx.log) };
      } catch (e) {
        // An unknown device is the request's; a broken spec file or a VM pod is the node's state.
        if (e instanceof CdiError) throw e.reason === 'Unresolvable' ? notFound(e.message, e) : failedPrecondition(e.message, e);
        throw e;
      }
    },
    async StartContainer(req, ctx) {
      await containers.start(need(req.container_id), ctx.log);
      return {};
    },
    async StopContainer(req, ctx) {
      await containers.stop(need(req.container_id), Number(req.timeout || '0'), ctx.log);
      return {};
    },
    async RemoveContainer(req, ctx) {
      await containers.remove(need(req.container_id), ctx.log);
      return {};
    },
    async ListContainers(req) {
      return { containers: await containers.list(req.filter) };
    },
    async ContainerStatus(req) {
      return containers.status(need(req.container_id), req.verbose);
    },
    async UpdateContainerResources(req) {
      // Valid resources the pod's sandbox cannot grow to (a micro-VM keeps its boot size) fail as
      // SandboxTooSmallError, a failed-precondition.
      await containers.updateResources(need(req.container_id), req.linux);
      return {};
    },
    async ReopenContainerLog(req) {
      await containers.reopenLog(need(req.container_id));
      return {};
    },
  };
}
