import { join } from 'node:path';
import type { OwnDaemon } from './own-daemon.js';
import type { CensusTarget } from './host-census.js';

/** The census target of an ownDaemon (its dirs, bridge, pid, log and subnet). */
export function targetOf(d: OwnDaemon): CensusTarget {
  return { root: d.root, state: d.state, dir: d.dir, bridge: d.bridge, daemonPid: d.proc?.pid, logFile: join(d.dir, 'bulkheadd.log'), subnetPrefix: d.subnetPrefix };
}
