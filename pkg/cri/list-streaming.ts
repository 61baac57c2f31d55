// CRIListStreaming (KEP-5825): StreamPodSandboxes, StreamContainers, StreamContainerStats,
// StreamPodSandboxStats, StreamPodSandboxMetrics. Same results as the List* RPCs, sent in
// chunks of at least one item (none at all when the list is empty), then EOF.
import type { RuntimeHandlers, ResponseStream } from '../grpc/handlers.js';
import type { SandboxManager } from '../sandbox/sandbox-manager.js';
import type { ContainerManager } from '../container/container-manager.js';
import { podMetrics, type StatsService } from '../stats/stats-service.js';

/** Items per response: small enough to stay far below the 16 MiB message limit. */
export const STREAM_CHUNK = 128;

async function sendChunks<T, R>(items: T[], stream: ResponseStream<R>, wrap: (chunk: T[]) => R): Promise<void> {
  for (let i = 0; i < items.length && !stream.signal.aborted; i += STREAM_CHUNK) await stream.write(wrap(items.slice(i, i + STREAM_CHUNK)));
}

export function listStreamingHandlers(
  sandboxes: SandboxManager,
  containers: ContainerManager,
  stats: StatsService,
): Pick<RuntimeHandlers, 'StreamPodSandboxes' | 'StreamContainers' | 'StreamContainerStats' | 'StreamPodSandboxStats' | 'StreamPodSandboxMetrics'> {
  return {
    async StreamPodSandboxes(req, stream) {
      await sendChunks(sandboxes.list(req.filter), stream, (pod_sandboxes) => ({ pod_sandboxes }));
    },
    async StreamContainers(req, stream) {
      await sendChunks(await containers.list(req.filter), stream, (c) => ({ containers: c }));
    },
    async StreamContainerStats(req, stream) {
      await sendChunks(await stats.listContainerStats(req.filter), stream, (container_stats) => ({ container_stats }));
    },
    async StreamPodSandboxStats(req, stream) {
      await sendChunks(await stats.listPodStats(req.filter), stream, (pod_sandbox_stats) => ({ pod_sandbox_stats }));
    },
    async StreamPodSandboxMetrics(_req, stream) {
      const pods = sandboxes.all().filter((s) => s.phase === 'created');
      await sendChunks(await Promise.all(pods.map((s) => podMetrics(stats, s))), stream, (pod_sandbox_metrics) => ({ pod_sandbox_metrics }));
    },
  };
}
