// The built Bulkhead daemon (dist/cmd/bulkheadd/main.js), private to the bench: temp
// root/state/socket, the bench CNI network and the same registry mirrors as containerd.
import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchEnv } from '../env.js';
import { DaemonProcess } from './daemon-process.js';
import type { ProcInfo } from '../proc.js';
import { DaemonRuntime } from './daemon-runtime.js';
import { configSchema } from '../../pkg/config/schema.js';
import { detectSnapshotSupport, type SnapshotSupport } from '../../pkg/vm/snapshot-support.js';
import { defaultVirtiofsdPath } from '../../pkg/vm/virtiofsd.js';

/**
 * Micro-VM handlers the bench adds when this build's schema knows them: cold, with a warm pool of
 * one, and started from a snapshot when this host's QEMU and virtiofsd can (snapshotVm()).
 */
export const VM_HANDLERS = { cold: 'microvm', warm: 'microvm-warm', snapshot: 'microvm-snapshot' } as const;
/** Guest image cache shared by bench runs (building it is slow; the daemon's temp root would lose it). */
const VM_GUEST_ROOT = process.env.BENCH_VM_GUEST_ROOT ?? '/var/tmp/bulkhead-bench/vm-guest';
/** Where deploy/vm-tools.sh leaves backports' QEMU 10 and the Rust virtiofsd when the distro's can't snapshot. */
const CACHED_QEMU = '/var/cache/bulkhead-tools/qemu-10.0.2/usr/bin/qemu-system-x86_64';
const CACHED_VIRTIOFSD = '/var/cache/bulkhead-tools/virtiofsd/bin/virtiofsd';

/** The QEMU and virtiofsd the snapshot handler would use, and whether they can snapshot (why not). */
export function snapshotVm(): { qemu: string; virtiofsd: string; support: SnapshotSupport } {
  const qemu = process.env.BENCH_SNAPSHOT_QEMU ?? (existsSync(CACHED_QEMU) ? CACHED_QEMU : 'qemu-system-x86_64');
  const virtiofsd = process.env.BENCH_SNAPSHOT_VIRTIOFSD ?? (existsSync(CACHED_VIRTIOFSD) ? CACHED_VIRTIOFSD : defaultVirtiofsdPath());
  return { qemu, virtiofsd, support: detectSnapshotSupport(qemu, virtiofsd) };
}

/**
 * The handler table, always explicit: runc only, unless the micro-VM handlers are wanted. The
 * embedded defaults include a VM handler whose guest image is built in the background at start-up
 * (~180 MB under the root), which would load the machine and the root dir during other scenarios.
 */
function handlersToml(vm: boolean): string {
  const handlers: Record<string, Record<string, unknown>> = { runc: { kind: 'oci' } };
  if (vm) {
    handlers[VM_HANDLERS.cold] = { kind: 'vm', guest_root: VM_GUEST_ROOT, pool_size: 0 };
    handlers[VM_HANDLERS.warm] = { kind: 'vm', guest_root: VM_GUEST_ROOT, pool_size: 1 };
    const snap = snapshotVm();
    if (snap.support.ok) {
      handlers[VM_HANDLERS.snapshot] = { kind: 'vm', guest_root: VM_GUEST_ROOT, pool_size: 0, qemu_path: snap.qemu, virtiofsd_path: snap.virtiofsd, start_from: 'snapshot' };
    }
    // Builds without the VM runtime reject these keys (strict schema): then runc only.
    if (!configSchema.safeParse({ runtime_handlers: handlers }).success) return handlersToml(false);
    mkdirSync(VM_GUEST_ROOT, { recursive: true });
  }
  return Object.entries(handlers)
    .map(([name, h]) => `\n[runtime_handlers."${name}"]\n` + Object.entries(h).map(([k, v]) => `${k} = ${JSON.stringify(v)}`).join('\n'))
    .join('\n') + '\n';
}

export interface BulkheadOptions {
  /** Extra node flags, e.g. ['--cpu-prof', '--cpu-prof-dir=/tmp/x'] for profiling. */
  nodeArgs?: string[];
  logLevel?: string;
  /** Add the micro-VM handlers (cold + warm pool). Off by default: a warm pool boots a VM at start-up,
   *  which would load the machine during the other scenarios. */
  vmHandlers?: boolean;
  /** Directory name under the bench dir (several Bulkhead daemons can run at once). */
  instance?: string;
}

function renderConfig(base: string, env: BenchEnv, logLevel: string, vm: boolean): string {
  return `root = "${base}/root"
state = "${base}/state"
address = "${base}/bulkhead.sock"
log_level = "${logLevel}"

[registry]
config_path = "${env.certsDir}"

[cni]
conf_dir = "${env.cniConfDir}"
bin_dirs = ["${env.cniBinDir}"]
${handlersToml(vm)}`;
}

export class BulkheadRuntime extends DaemonRuntime {
  readonly name = 'bulkhead' as const;
  readonly label = 'Bulkhead';
  readonly sandboxImage = '';
  readonly base: string;
  readonly rootDir: string;
  readonly logFile: string;
  readonly socket: string;
  protected readonly daemon: DaemonProcess;

  constructor(env: BenchEnv, opts: BulkheadOptions = {}) {
    super();
    this.base = join(env.dir, opts.instance ?? 'bulkhead');
    this.rootDir = join(this.base, 'root');
    this.logFile = join(this.base, 'bulkheadd.log');
    this.socket = join(this.base, 'bulkhead.sock');
    mkdirSync(this.base, { recursive: true });
    const configPath = join(this.base, 'config.toml');
    writeFileSync(configPath, renderConfig(this.base, env, opts.logLevel ?? 'warn', opts.vmHandlers ?? false));
    const main = join(env.repo, 'dist/cmd/bulkheadd/main.js');
    if (!existsSync(main)) throw new Error(`${main} missing: run npm run build`);
    this.daemon = new DaemonProcess({
      command: process.execPath,
      args: [...(opts.nodeArgs ?? []), main, '--config', configPath],
      logFile: this.logFile,
      socket: this.socket,
    });
  }

  protected isMonitor(p: ProcInfo): boolean {
    return p.comm === 'conmon' && p.cmdline.includes(`${this.base}/`); // conmon args name our state dir
  }

  protected leftoverPattern(): string {
    return `${this.base}/`;
  }
}
