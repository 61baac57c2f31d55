// One OCI runtime handler's tools: the resolved runtime binary (runc/crun) and its CLI, conmon, the
// runtime's state root, the cgroup driver. Shared by the handler's pod controller
// (oci-pod-controller.ts) and task runtime (oci-task-runtime.ts), which oci-runtime.ts pairs.
import { basename, join } from 'node:path';
import { detectCgroupMode } from '../../cgroups/detect.js';
import type { OciHandlerConfig } from '../../config/schema.js';
import { failedPrecondition } from '../../errors/errors.js';
import { which } from '../../sys/which.js';
import type { UserNamespaceSupport } from '../pod-controller.js';
import { resolveRuntimePath } from './bundled-runtime.js';
import { probeUserNamespaceSupport } from './user-namespace-support.js';
import { OciRuntimeCli } from './runc.js';
import { CgroupfsDriver, type CgroupDriver } from '../../cgroups/driver.js';

export interface OciHandlerDeps {
  handler: string;
  config: OciHandlerConfig;
  stateDir: string;
  hostOomScoreAdjMin: number;
  /** Default: cgroupfs. */
  cgroups?: CgroupDriver;
}

export class OciHandler {
  readonly name: string;
  readonly runtimePath: string;
  readonly conmonPath: string;
  readonly runtimeRoot: string;
  readonly cli: OciRuntimeCli;
  readonly cgroups: CgroupDriver;
  readonly hostOomScoreAdjMin: number;
  /** The daemon's state dir (conmon's attach sockets live under <state>/attach). */
  readonly stateDir: string;
  private usernsSupport: UserNamespaceSupport | undefined;

  constructor(private readonly deps: OciHandlerDeps) {
    this.name = deps.handler;
    this.runtimePath = resolveRuntimePath(deps.config.runtime_path) ?? deps.config.runtime_path;
    this.conmonPath = which(deps.config.monitor_path) ?? deps.config.monitor_path;
    this.runtimeRoot = deps.config.runtime_root ?? join(deps.stateDir, 'runtimes', deps.handler);
    this.cgroups = deps.cgroups ?? new CgroupfsDriver();
    this.cli = new OciRuntimeCli(this.runtimePath, this.runtimeRoot, this.cgroups.runtimeArgs);
    this.hostOomScoreAdjMin = deps.hostOomScoreAdjMin;
    this.stateDir = deps.stateDir;
  }

  /** Why this handler cannot run containers, or undefined when it can. */
  available(): string | undefined {
    if (!resolveRuntimePath(this.deps.config.runtime_path)) return `OCI runtime "${this.deps.config.runtime_path}" not found`;
    if (!which(this.deps.config.monitor_path)) return `container monitor "${this.deps.config.monitor_path}" not found`;
    // crun refuses cgroup v1/v2 hybrid hosts ("cgroups in hybrid mode not supported"): say so up
    // front instead of failing every container create with a cryptic runtime error.
    if (basename(this.runtimePath).startsWith('crun') && detectCgroupMode() === 'hybrid') {
      return 'crun does not support this host\'s hybrid cgroup v1/v2 layout (it needs pure v1 or v2); use the runc handler';
    }
    return undefined;
  }

  checkAvailable(): void {
    const why = this.available();
    if (why) throw failedPrecondition(`runtime handler "${this.name}": ${why}`);
  }

  userNamespaces(): UserNamespaceSupport {
    const why = this.available();
    if (why) return { unsupported: `runtime handler "${this.name}": ${why}` };
    return (this.usernsSupport ??= probeUserNamespaceSupport(this.runtimePath));
  }
}
