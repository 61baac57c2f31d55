// What a scenario needs from a runtime under test: its CRI client, its daemon pid, and the
// processes it adds per pod (for the memory figures).
import type { CriClient } from '../cri-client.js';

/** containerd1 is Debian's 1.6.20; containerd2 and crio are built by bench/setup/build-peers.sh. */
export type RuntimeName = 'bulkhead' | 'containerd1' | 'containerd2' | 'crio';
export const PEER_NAMES = ['containerd2', 'crio', 'containerd1'] as const satisfies readonly RuntimeName[];
export type PeerName = (typeof PEER_NAMES)[number];

export interface RuntimeUnderTest {
  readonly name: RuntimeName;
  /** What the table calls it, with its version ("containerd 2.4.2"). */
  readonly label: string;
  readonly client: CriClient;
  /** Image the pod infra needs pulled before the first pod ('' when the runtime needs none). */
  readonly sandboxImage: string;
  /** Persistent dir holding its images (content + snapshots): its size shows what a pull left. */
  readonly rootDir: string;
  /** The daemon's own log file. */
  readonly logFile: string;
  start(): Promise<void>;
  /** Removes every pod via CRI, stops the daemon, then kills, unmounts and deletes what is left. */
  stop(): Promise<void>;
  daemonPid(): number;
  /** Pids of the per-pod helpers this runtime started (shims/monitors and pod infra, not workloads). */
  perPodHelperPids(workloadComms: string[]): number[];
  version(): Promise<string>;
}

/** Stops and removes every pod through CRI, so the runtime tears down its own netns/mounts/cgroups. */
export async function removeAllPods(client: CriClient): Promise<number> {
  const { items } = await client.runtime.ListPodSandbox({});
  await Promise.all(
    items.map(async (sb) => {
      await client.runtime.StopPodSandbox({ pod_sandbox_id: sb.id }).catch(() => undefined);
      await client.runtime.RemovePodSandbox({ pod_sandbox_id: sb.id }).catch(() => undefined);
    }),
  );
  return items.length;
}
