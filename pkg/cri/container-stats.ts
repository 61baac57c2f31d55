// ContainerStats, ListContainerStats.
import type { RuntimeHandlers } from '../grpc/handlers.js';
import { invalidArgument } from '../errors/errors.js';
import type { ContainerManager } from '../container/container-manager.js';
import type { StatsService } from '../stats/stats-service.js';

export function containerStatsHandlers(containers: ContainerManager, stats: StatsService): Pick<RuntimeHandlers, 'ContainerStats' | 'ListContainerStats'> {
  return {
    async ContainerStats(req) {
      if (!req.container_id) throw invalidArgument('container_id must not be empty');
      return { stats: await stats.containerStats(containers.get(req.container_id)) };
    },
    async ListContainerStats(req) {
      return { stats: await stats.listContainerStats(req.filter) };
    },
  };
}
