// RPCs on the lifecycle and resources of the guest's containers, answered by the AgentContainers
// (containers.ts): create, start, signal, wait, delete, list, stats, resources, terminal size.
import { constants as osConstants } from 'node:os';
import type { AgentContainers } from './containers.js';
import type { Handlers } from './rpc.js';

const { SIGTERM } = osConstants.signals;

export type ContainerRpc =
  | 'create_container'
  | 'start_container'
  | 'signal_container'
  | 'wait_container'
  | 'delete_container'
  | 'list_containers'
  | 'stats'
  | 'update_resources'
  | 'resize'
  | 'warm_up';

export function containerRpcs(c: AgentContainers): Handlers<ContainerRpc> {
  return {
    create_container: async (r) => {
      await c.create(r);
      return {};
    },
    start_container: async (r) => ({ pid: await c.start(r.container_id) }),
    signal_container: async (r) => {
      // 0 is "no signal given" in proto3: the default stop signal.
      await c.signal(r.container_id, r.signal || SIGTERM, r.all);
      return {};
    },
    wait_container: (r) => c.wait(r.container_id),
    delete_container: async (r) => {
      await c.delete(r.container_id);
      return {};
    },
    list_containers: () => ({
      containers: c.list().map((x) => ({ container_id: x.id, state: x.state, exit: x.exit ?? null, pid: x.pid })),
    }),
    stats: (r) => ({ stats: c.stats(r.container_ids) }),
    update_resources: async (r) => {
      await c.update(r.container_id, r.resources);
      return {};
    },
    resize: async (r) => {
      await c.resize(r.container_id, r.exec_id, r.width, r.height);
      return {};
    },
    warm_up: async () => {
      await c.warmUp();
      return {};
    },
  };
}
