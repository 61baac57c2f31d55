// Version, Status, RuntimeConfig, UpdateRuntimeConfig.
import type { RuntimeHandlers } from '../grpc/handlers.js';
import type { Config } from '../config/schema.js';
import type * as cri from '../api/cri-types.js';
import type { Condition, StatusSource } from '../status/status-source.js';
import { invalidArgument } from '../errors/errors.js';
import { PodCidrError, type PodCidrSettings } from '../network/pod-cidr.js';

export const RUNTIME_NAME = 'bulkhead';
export const RUNTIME_VERSION = '0.1.0';
export const CRI_API_VERSION = 'v1';

export type { Condition, StatusSource } from '../status/status-source.js';

function mergeConditions(all: Condition[]): cri.RuntimeCondition[] {
  const byType = new Map<string, Condition[]>();
  for (const c of all) byType.set(c.type, [...(byType.get(c.type) ?? []), c]);
  const out: cri.RuntimeCondition[] = [];
  for (const [type, conds] of byType) {
    const failing = conds.filter((c) => !c.status);
    out.push(
      failing.length === 0
        ? { type, status: true, reason: '', message: '' }
        : { type, status: false, reason: failing[0]!.reason, message: failing.map((c) => c.message).join('; ') },
    );
  }
  return out;
}

export function runtimeInfoHandlers(deps: {
  config: Config;
  podCidr: PodCidrSettings;
  sources: StatusSource[];
}): Pick<RuntimeHandlers, 'Version' | 'Status' | 'RuntimeConfig' | 'UpdateRuntimeConfig'> {
  return {
    async Version() {
      return {
        version: '0.1.0',
        runtime_name: RUNTIME_NAME,
        runtime_version: RUNTIME_VERSION,
        runtime_api_version: CRI_API_VERSION,
      };
    },

    async Status(req) {
      const results = await Promise.all(deps.sources.map((s) => s.conditions()));
      const conditions = mergeConditions(results.flat());
      for (const type of ['RuntimeReady', 'NetworkReady']) {
        if (!conditions.some((c) => c.type === type)) {
          conditions.push({ type, status: false, reason: 'NotChecked', message: `no subsystem reports ${type}` });
        }
      }
      const handlers = (await Promise.all(deps.sources.map((s) => s.handlers?.() ?? Promise.resolve([])))).flat();
      const info: Record<string, string> = {};
      if (req.verbose) {
        info.config = JSON.stringify(deps.config);
        for (const s of deps.sources) Object.assign(info, (await s.info?.()) ?? {});
      }
      const features: cri.RuntimeFeatures = {};
      for (const s of deps.sources) Object.assign(features, (await s.features?.()) ?? {});
      return { status: { conditions }, info, runtime_handlers: handlers, features };
    },

    async RuntimeConfig() {
      // kubelet (KubeletCgroupDriverFromCRI) takes its cgroupDriver from this answer.
      return { linux: { cgroup_driver: deps.config.cgroup_driver === 'systemd' ? 'SYSTEMD' : 'CGROUPFS' } };
    },

    async UpdateRuntimeConfig(req) {
      try {
        await deps.podCidr.update(req.runtime_config?.network_config?.pod_cidr ?? '');
      } catch (e) {
        if (e instanceof PodCidrError) throw invalidArgument(`UpdateRuntimeConfig: ${e.message}`, e);
        throw e;
      }
      return {};
    },
  };
}
