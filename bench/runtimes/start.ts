// Builds (unless told not to) and starts the runtimes under test, in table order, and pulls what
// each needs before the first pod. A peer that cannot build or start becomes a column marked
// missing with the reason, never silently dropped; Bulkhead failing to start fails the run.
import type { BenchEnv } from '../env.js';
import { BUSYBOX } from '../pods.js';
import type { Column } from '../report.js';
import { BulkheadRuntime } from './bulkhead.js';
import { ContainerdRuntime } from './containerd.js';
import { CrioRuntime } from './crio.js';
import { buildPeers, peerBuilt, CONTAINERD2_VERSION, CRIO_VERSION, type BuiltPeer } from './peers.js';
import type { RuntimeName, RuntimeUnderTest } from './runtime.js';

/** Table order: Bulkhead, the primary peer (targets are against it), then the others. */
export const KNOWN_RUNTIMES: RuntimeName[] = ['bulkhead', 'containerd2', 'crio', 'containerd1'];
const BUILT_LABEL: Record<BuiltPeer, string> = { containerd2: `containerd ${CONTAINERD2_VERSION}`, crio: `CRI-O ${CRIO_VERSION}` };

export interface StartOptions {
  repo: string;
  env: BenchEnv;
  wanted: string[];
  /** false: --quick/--no-build, peers run only when cached. */
  build: boolean;
  logLevel: string;
  nodeArgs: string[];
  log(msg: string): void;
}

function create(name: RuntimeName, o: StartOptions): RuntimeUnderTest {
  if (name === 'bulkhead') return new BulkheadRuntime(o.env, { nodeArgs: o.nodeArgs, logLevel: o.logLevel });
  if (name === 'crio') return new CrioRuntime(o.env, o.logLevel);
  return new ContainerdRuntime(o.env, name === 'containerd2' ? 2 : 1, o.logLevel);
}

/** Fills runtimes (the started ones, for cleanup), columns and versions (label → CRI Version). */
export async function startRuntimes(o: StartOptions, runtimes: RuntimeUnderTest[], columns: Column[], versions: Record<string, string>): Promise<void> {
  const builtWanted = (['containerd2', 'crio'] as const).filter((p) => o.wanted.includes(p));
  const missing = o.build
    ? buildPeers(o.repo, builtWanted, o.log)
    : new Map(builtWanted.filter((p) => !peerBuilt(p)).map((p) => [p, 'not built (--quick/--no-build never builds: run bench/setup/build-peers.sh)'] as const));
  for (const name of KNOWN_RUNTIMES.filter((r) => o.wanted.includes(r))) {
    const why = name === 'containerd2' || name === 'crio' ? missing.get(name) : undefined;
    if (why) {
      columns.push({ name, label: BUILT_LABEL[name as BuiltPeer], missing: why });
      continue;
    }
    const rt = create(name, o);
    try {
      await rt.start();
      versions[rt.label] = await rt.version();
      o.log(`${rt.label} up (pid ${rt.daemonPid()}): ${versions[rt.label]}`);
      for (const image of [BUSYBOX, rt.sandboxImage].filter(Boolean)) await rt.client.image.PullImage({ image: { image } }, 300_000);
      runtimes.push(rt);
      columns.push({ name, label: rt.label });
    } catch (e) {
      await rt.stop().catch(() => undefined);
      if (name === 'bulkhead') throw e;
      const reason = `did not start: ${(e instanceof Error ? e.message : String(e)).split('\n').slice(0, 3).join(' / ').slice(0, 300)}`;
      o.log(`${rt.label} ${reason}`);
      columns.push({ name, label: rt.label, missing: reason });
    }
  }
}
