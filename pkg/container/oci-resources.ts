// CRI LinuxContainerResources → OCI LinuxResources (for runc update and status round-trips).
import type * as cri from '../api/cri-types.js';
import { invalidArgument } from '../grpc/errors.js';
import { criInt } from '../grpc/int64.js';

/** Fields the OCI spec types as unsigned: a negative value would only fail later inside runc (INTERNAL). */
function checkUnsigned(r: cri.LinuxContainerResources__Output): void {
  const fields = { cpu_shares: r.cpu_shares, cpu_period: r.cpu_period } as Record<string, string>;
  for (const [k, v] of Object.entries(fields)) if (v && Number(v) < 0) throw invalidArgument(`resources.${k} must not be negative (${v})`);
  for (const h of r.hugepage_limits) if (Number(h.limit) < 0) throw invalidArgument(`resources.hugepage_limits[${h.page_size}] must not be negative`);
}

export function ociResources(r: cri.LinuxContainerResources__Output): Record<string, unknown> {
  checkUnsigned(r);
  const n = (s: string, what: string) => criInt(s, `resources.${what}`);
  const set = (o: Record<string, unknown>, key: string, v: number): void => {
    if (v) o[key] = v;
  };
  const cpu: Record<string, unknown> = {};
  set(cpu, 'shares', n(r.cpu_shares, 'cpu_shares'));
  set(cpu, 'quota', n(r.cpu_quota, 'cpu_quota'));
  set(cpu, 'period', n(r.cpu_period, 'cpu_period'));
  if (r.cpuset_cpus) cpu.cpus = r.cpuset_cpus;
  if (r.cpuset_mems) cpu.mems = r.cpuset_mems;
  const memory: Record<string, unknown> = {};
  set(memory, 'limit', n(r.memory_limit_in_bytes, 'memory_limit_in_bytes'));
  set(memory, 'swap', n(r.memory_swap_limit_in_bytes, 'memory_swap_limit_in_bytes'));
  const out: Record<string, unknown> = {};
  if (Object.keys(cpu).length) out.cpu = cpu;
  if (Object.keys(memory).length) out.memory = memory;
  if (r.hugepage_limits.length) out.hugepageLimits = r.hugepage_limits.map((h) => ({ pageSize: h.page_size, limit: n(h.limit, 'hugepage_limits') }));
  if (Object.keys(r.unified).length) out.unified = r.unified;
  return out;
}
