// PodSandboxStats, ListPodSandboxStats, ListMetricDescriptors, ListPodSandboxMetrics.
import type { RuntimeHandlers } from '../grpc/handlers.js';
import { invalidArgument } from '../errors/errors.js';
import type { SandboxManager } from '../sandbox/sandbox-manager.js';
import { METRIC_DESCRIPTORS, podMetrics, type StatsService } from '../stats/stats-service.js';

export function podStatsHandlers(
  sandboxes: SandboxManager,
  stats: StatsService,
): Pick<RuntimeHandlers, 'PodSandboxStats' | 'ListPodSandboxStats' | 'ListMetricDescriptors' | 'ListPodSandboxMetrics'> {
  return {
    async PodSandboxStats(req) {
      if (!req.pod_sandbox_id) throw invalidArgument('pod_sandbox_id must not be empty');
      return { stats: await stats.podStats(sandboxes.get(req.pod_sandbox_id)) };
    },
    async ListPodSandboxStats(req) {
      return { stats: await stats.listPodStats(req.filter) };
    },
    async ListMetricDescriptors() {
      return { descriptors: METRIC_DESCRIPTORS };
    },
    async ListPodSandboxMetrics() {
      const pods = sandboxes.all().filter((s) => s.phase === 'created');
      return { pod_metrics: await Promise.all(pods.map((s) => podMetrics(stats, s))) };
    },
  };
}
