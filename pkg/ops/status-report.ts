// `bulkhead status`: one report (JSON with --json) and one screen of text telling what works on this
// node and what is missing: daemon and its Status conditions, the config in effect, every runtime
// handler's findings, CNI readiness. Local checks run even when the daemon is down.
import { existsSync } from 'node:fs';
import { DEFAULT_CONFIG_PATH, loadConfig, ConfigError, validateConfig } from '../config/load.js';
import { configSchema, type Config } from '../config/schema.js';
import { CRI_API_VERSION, RUNTIME_VERSION } from '../cri/runtime-info.js';
import { queryDaemon, type DaemonInfo } from './daemon-query.js';
import { cgroupDriverProblem, type CgroupDriverName } from '../cgroups/driver.js';
import { checkCni, checkHandler, hostFacts, type CgroupMode, type CniReport, type HandlerReport } from './host-checks.js';

export interface StatusReport {
  bulkhead: { version: string; cri_api: string };
  daemon: DaemonInfo;
  config: {
    /** Where the config shown comes from: the running daemon (in effect), the file, or the defaults. */
    source: 'daemon' | 'file' | 'defaults';
    file: string;
    /** Problems of the file on disk (the daemon may be running an older, valid one). */
    file_errors: string[];
    /** Keys changed in the file that the daemon applies only after a restart. */
    pending_restart: string[];
    effective: Config;
  };
  host: {
    kernel: string;
    cgroup_mode: CgroupMode;
    /** The configured cgroup driver and, when it cannot work here, why (the daemon refuses to start then). */
    cgroup_driver: { name: CgroupDriverName; problem?: string };
  };
  handlers: HandlerReport[];
  cni: CniReport;
  /** Everything needed to run the default handler's pods is in place. */
  ok: boolean;
  /** Why not, when ok is false (one short phrase each). */
  blockers: string[];
}

export interface StatusOptions {
  configPath?: string;
  address?: string;
  timeoutMs?: number;
}

export async function buildStatusReport(opts: StatusOptions = {}): Promise<StatusReport> {
  const file = opts.configPath ?? DEFAULT_CONFIG_PATH;
  let local: Config | undefined;
  let fileErrors: string[] = [];
  try {
    local = loadConfig(opts.configPath);
  } catch (e) {
    fileErrors = e instanceof ConfigError ? e.problems : [(e as Error).message];
  }
  const address = opts.address ?? local?.address ?? validateConfig({}).address;
  const daemon = await queryDaemon(address, opts.timeoutMs);

  let effective = local ?? validateConfig({});
  let source: StatusReport['config']['source'] = local && existsSync(file) ? 'file' : 'defaults';
  let pending: string[] = [];
  if (daemon.reachable) {
    const parsed = configSchema.safeParse(daemon.info.config);
    if (parsed.success) {
      effective = parsed.data;
      source = 'daemon';
    }
    const reload = daemon.info.reload as { pending_restart?: unknown } | undefined;
    if (Array.isArray(reload?.pending_restart)) pending = reload.pending_restart.map(String);
  }

  const host = hostFacts();
  const handlers = Object.entries(effective.runtime_handlers).map(([name, h]) => checkHandler(name, h, effective, host));
  const cni = checkCni(effective);
  const driverProblem = await cgroupDriverProblem(effective.cgroup_driver);
  const def = handlers.find((h) => h.default);
  const blockers: string[] = [];
  if (!daemon.reachable) blockers.push('daemon not reachable');
  else for (const c of daemon.conditions) if (!c.status) blockers.push(`${c.type} is false`);
  if (!def) blockers.push(`default handler "${effective.default_runtime_handler}" not configured`);
  else if (!def.ok) blockers.push(`default handler "${def.name}": ${def.problems.join('; ')}`);
  if (!cni.ready) blockers.push('CNI not ready');
  if (driverProblem) blockers.push(driverProblem);
  return {
    bulkhead: { version: RUNTIME_VERSION, cri_api: CRI_API_VERSION },
    daemon,
    config: { source, file, file_errors: fileErrors, pending_restart: pending, effective },
    host: { kernel: host.kernel, cgroup_mode: host.cgroupMode, cgroup_driver: { name: effective.cgroup_driver, ...(driverProblem ? { problem: driverProblem } : {}) } },
    handlers,
    cni,
    ok: blockers.length === 0,
    blockers,
  };
}

const OK = '✓';
const BAD = '✗';

/** The one-screen text rendering. */
export function formatStatus(r: StatusReport): string {
  const out: string[] = [];
  const line = (label: string, text: string) => out.push(`${label.padEnd(10)}${text}`);
  const d = r.daemon;
  line('Bulkhead', `${r.bulkhead.version} (CRI ${r.bulkhead.cri_api})`);
  if (d.reachable) {
    line('Daemon', `${OK} ${d.version.runtime_name} ${d.version.runtime_version} at ${d.address}`);
    for (const c of d.conditions) {
      out.push(`          ${c.status ? OK : BAD} ${c.type}${c.status ? '' : `: ${c.reason}${c.message ? ` (${c.message})` : ''}`}`);
    }
  } else {
    line('Daemon', `${BAD} daemon not reachable at ${d.address}: ${d.error}`);
    out.push('          (showing local detection only; start it with: bulkheadd --config FILE)');
  }

  const c = r.config.effective;
  const from =
    r.config.source === 'daemon' ? 'in effect (from the daemon)' : r.config.source === 'file' ? `from ${r.config.file}` : `embedded defaults (no ${r.config.file})`;
  line('Config', `${from}: root=${c.root} state=${c.state} log_level=${c.log_level} metrics=${c.metrics.address || 'off'}`);
  out.push(`          registry certs.d=${c.registry.config_path}  default handler=${c.default_runtime_handler}`);
  for (const e of r.config.file_errors) out.push(`          ${BAD} ${r.config.file}: ${e}`);
  if (r.config.pending_restart.length) out.push(`          ! changed in the file, needs a restart: ${r.config.pending_restart.join(', ')}`);

  line('Host', `kernel ${r.host.kernel || '?'}, cgroups ${r.host.cgroup_mode}, cgroup driver ${r.host.cgroup_driver.name}`);
  if (r.host.cgroup_driver.problem) out.push(`          ${BAD} ${r.host.cgroup_driver.problem}`);

  out.push('Handlers');
  const width = Math.max(...r.handlers.map((h) => h.name.length + (h.default ? 10 : 0)), 8);
  for (const h of r.handlers) {
    const name = `${h.name}${h.default ? ' (default)' : ''}`.padEnd(width);
    out.push(`  ${h.ok ? OK : BAD} ${name}  ${h.kind.padEnd(3)}  ${h.summary}`);
    for (const p of h.problems) out.push(`      ${BAD} ${p}`);
  }

  const n = r.cni;
  if (n.file) {
    const plugins = n.plugins.map((p) => `${p.name}${p.path ? '' : ` ${BAD}`}`).join(' ');
    line('CNI', `${n.ready ? OK : BAD} ${n.conf_dir}/${n.file}${n.network ? ` (network "${n.network}")` : ''}: ${plugins}`);
  } else {
    line('CNI', `${BAD} not ready`);
  }
  for (const p of n.problems) out.push(`          ${BAD} ${p}`);

  out.push('');
  out.push(r.ok ? `${OK} ready to run pods` : `${BAD} not ready: ${r.blockers.join('; ')}`);
  return out.join('\n') + '\n';
}
