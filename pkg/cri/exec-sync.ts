// ExecSync: run a command in a container, return its exit code and (capped) stdout/stderr.
import type { RuntimeHandlers } from '../grpc/handlers.js';
import { invalidArgument } from '../errors/errors.js';
import type { ContainerManager } from '../container/container-manager.js';

export function execSyncHandlers(containers: ContainerManager): Pick<RuntimeHandlers, 'ExecSync'> {
  return {
    async ExecSync(req, ctx) {
      if (!req.container_id) throw invalidArgument('container_id must not be empty');
      if (!req.cmd.length) throw invalidArgument('cmd must not be empty');
      return containers.execSync(req.container_id, req.cmd, Number(req.timeout || '0'), ctx.log);
    },
  };
}
