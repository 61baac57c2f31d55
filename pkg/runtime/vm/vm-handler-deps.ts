// What a micro-VM handler is built from and what it reports (shared by vm-runtime.ts and its halves).
import type { Logger } from 'pino';
import type { VmHandlerConfig } from '../../config/schema.js';
import type { CgroupDriver } from '../../cgroups/driver.js';

export interface VmRuntimeDeps {
  handler: string;
  config: VmHandlerConfig;
  /** Daemon root (guest image cache under <root>/guest). */
  rootDir: string;
  /** Daemon state dir: pod VM dirs are <state>/pods/<id>/vm (found again after a restart). */
  stateDir: string;
  log: Logger;
  /** Default: cgroupfs (<pod cgroup>/vm). */
  cgroups?: CgroupDriver;
  /** The memory limit of a pod cgroup (cgroupfs path), undefined = none. Default: read from cgroupfs (pkg/cgroups/memory-limit.ts); tests fake it. */
  podMemoryLimit?: (cgroup: string) => number | undefined;
}

/** The accelerator and guest image a VM handler uses (reported in Status). */
export interface VmHandlerInfo {
  accelerator: string;
  acceleratorReason: string;
  guestStamp: string;
  poolSize: number;
  poolReady: number;
  /** How pod VMs start (snapshot-start.ts) and why: the configured start_from meets the binaries. */
  startFrom: 'boot' | 'snapshot';
  startFromReason: string;
  unavailable?: string;
}
