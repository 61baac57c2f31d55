// Crash safety under churn: two workers create pods (+ a running container) and stop/remove pods
// continuously while the daemon is SIGKILLed at random moments (BULKHEAD_CHURN_KILLS, default 20).
// After every restart, what kubelet was told (acknowledged RPCs) must be exactly what is listed,
// with the right states; pods whose RunPodSandbox was cut off may exist (kubelet would remove
// them) but nothing kubelet never asked for; no conmon, pod/container dir or exit file without a
// listed owner. At the end everything is removed and the host census equals the baseline.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownDaemon, VM_HANDLERS_TOML, type OwnDaemon } from '../lib/own-daemon.js';
import { criClient, type CriClient } from '../lib/cri-grpc.js';
import { targetOf } from '../lib/census-target.js';
import { censusLeaks, censusTable, diskBreakdown, takeCensus, type Census } from '../lib/host-census.js';

const KILLS = Number(process.env.BULKHEAD_CHURN_KILLS ?? 20);
/** Micro-VM pods in the churn (TCG boots take ~15 s here): one in every 7th round, at most this many. */
const VM_PODS = process.env.BULKHEAD_RELIABILITY_VM === '0' ? 0 : Number(process.env.BULKHEAD_CHURN_VM_PODS ?? 2);
/** Rounds whose kill lands while a micro-VM pod boots (every 7th round, offset 5). */
const VM_CUT = process.env.BULKHEAD_RELIABILITY_VM === '0' ? 0 : Number(process.env.BULKHEAD_CHURN_VM_CUT ?? 1);
const IMAGE = 'docker.io/library/busybox:latest';
const isRoot = process.getuid?.() === 0;

interface PodModel {
  name: string;
  state: 'SANDBOX_READY' | 'SANDBOX_NOTREADY';
  /** Containers acknowledged as created; value = state kubelet was last told. */
  containers: Map<string, 'CONTAINER_CREATED' | 'CONTAINER_RUNNING'>;
}

describe.skipIf(!isRoot)('churn with SIGKILLs', () => {
  let d: OwnDaemon;
  let cri: CriClient;
  let baseline: Census;
  const pods = new Map<string, PodModel>();
  /** Names whose RunPodSandbox was not acknowledged: such pods may exist after a restart. */
  const doubtfulNames = new Set<string>();
  /** Pods whose stop/remove was cut off: they may be in any later state, or gone. */
  const doubtfulPods = new Set<string>();
  /** Containers whose StartContainer was cut off: CREATED or RUNNING are both right. */
  const doubtfulStarts = new Set<string>();
  /** Pods a worker is working on (the other worker leaves them alone). */
  const busy = new Set<string>();
  let seq = 0;
  const census = () => takeCensus(targetOf(d));

  beforeAll(async () => {
    d = ownDaemon('churn', { extraToml: VM_HANDLERS_TOML });
    await d.start();
    await d.crictl('pull', IMAGE);
    cri = criClient(d.sock);
    baseline = census();
  });
  afterAll(async () => {
    cri?.close();
    await d?.cleanup();
  });

  const nsOpts = (n: number) => ({ namespace_options: { pid: n % 2 === 0 ? 'POD' : 'CONTAINER' } });
  const podConfig = (name: string, n: number) => ({
    metadata: { name, namespace: 'churn', uid: `${name}-uid`, attempt: 0 },
    log_directory: join(d.logDir, name),
    linux: { security_context: nsOpts(n) },
  });

  async function createOne(handler = ''): Promise<void> {
    const n = seq++;
    const name = `churn-${handler || 'runc'}-${n}`;
    const cfg = podConfig(name, handler ? 1 : n);
    doubtfulNames.add(name);
    const { pod_sandbox_id: id } = await cri.call<{ pod_sandbox_id: string }>('RunPodSandbox', { config: cfg, runtime_handler: handler }, 120_000);
    doubtfulNames.delete(name);
    const m: PodModel = { name, state: 'SANDBOX_READY', containers: new Map() };
    pods.set(id, m);
    busy.add(id);
    const { container_id: cid } = await cri.call<{ container_id: string }>('CreateContainer', {
      pod_sandbox_id: id,
      config: { metadata: { name: 'c', attempt: 0 }, image: { image: IMAGE }, command: ['sh', '-c', 'trap "exit 0" TERM; while true; do sleep 1; done'], log_path: 'c.log', linux: { security_context: nsOpts(handler ? 1 : n) } },
      sandbox_config: cfg,
    }, 120_000);
    m.containers.set(cid, 'CONTAINER_CREATED');
    doubtfulStarts.add(cid);
    await cri.call('StartContainer', { container_id: cid }, 120_000);
    doubtfulStarts.delete(cid);
    m.containers.set(cid, 'CONTAINER_RUNNING');
    busy.delete(id);
  }

  async function removeOne(): Promise<void> {
    const ids = [...pods.keys()].filter((i) => !busy.has(i));
    if (!ids.length) return;
    const id = ids[Math.floor(Math.random() * ids.length)]!;
    busy.add(id);
    doubtfulPods.add(id);
    await cri.call('StopPodSandbox', { pod_sandbox_id: id }, 30_000);
    await cri.call('RemovePodSandbox', { pod_sandbox_id: id }, 30_000);
    pods.delete(id);
    doubtfulPods.delete(id);
    busy.delete(id);
  }

  async function worker(until: { killed: boolean }): Promise<void> {
    while (!until.killed) {
      try {
        if (pods.size < 3 || Math.random() < 0.55) await createOne();
        else await removeOne();
      } catch (e) {
        if (!until.killed) throw e;
      }
    }
  }

  /** Kubelet's view after a restart: check the acknowledged state, then garbage-collect the doubtful. */
  async function verifyAndReconcile(round: number): Promise<void> {
    const listed = (await cri.call<{ items: { id: string; state: string; runtime_handler: string; metadata: { name: string } }[] }>('ListPodSandbox', {})).items;
    const ctrs = (await cri.call<{ containers: { id: string; pod_sandbox_id: string; state: string }[] }>('ListContainers', {})).containers;
    const byId = new Map(listed.map((p) => [p.id, p]));
    for (const [id, m] of pods) {
      if (doubtfulPods.has(id)) continue;
      expect(byId.get(id)?.state, `round ${round}: pod ${m.name} ${id}`).toBe(m.state);
      for (const [cid, st] of m.containers) {
        const got = ctrs.find((c) => c.id === cid)?.state;
        if (doubtfulStarts.has(cid) && got === 'CONTAINER_RUNNING') m.containers.set(cid, 'CONTAINER_RUNNING');
        else expect(got, `round ${round}: container ${cid} of ${m.name}`).toBe(st);
      }
    }
    for (const p of listed) {
      if (pods.has(p.id)) continue;
      // Only a pod whose creation was cut off may appear without kubelet knowing its id.
      expect(doubtfulNames.has(p.metadata.name), `round ${round}: unexpected pod ${p.metadata.name} ${p.id}`).toBe(true);
    }
    for (const c of ctrs) expect(byId.has(c.pod_sandbox_id), `round ${round}: container ${c.id} without pod`).toBe(true);
    // No orphans: one conmon per running container, dirs and exit files only for listed objects.
    // conmon lives from CreateContainer (runc create) until the container exits.
    const vmPods = new Set(listed.filter((p) => p.runtime_handler === 'microvm').map((p) => p.id));
    const running = ctrs.filter((c) => !vmPods.has(c.pod_sandbox_id) && (c.state === 'CONTAINER_RUNNING' || c.state === 'CONTAINER_CREATED')).length;
    const now = census();
    expect(now['procs conmon'], `round ${round}: conmon count`).toBe(running);
    expect(now['procs runc'], `round ${round}: stray runc`).toBe(0);
    expect(now['procs qemu'], `round ${round}: one QEMU per VM pod`).toBe(listed.filter((p) => vmPods.has(p.id) && p.state === 'SANDBOX_READY').length);
    expect(now['pod dirs (root)'], `round ${round}: pod dirs`).toBe(listed.length);
    expect(now['pod dirs (state)'], `round ${round}: pod state dirs`).toBe(listed.length);
    expect(now['container dirs'], `round ${round}: container dirs`).toBe(ctrs.length);
    // a pod whose removal was cut off and then finished by the restart is simply gone
    for (const id of doubtfulPods) if (!byId.has(id)) pods.delete(id);
    // kubelet GC: pods it does not know (or whose removal it still wants) go away.
    for (const p of listed) {
      if (pods.has(p.id) && !doubtfulPods.has(p.id)) continue;
      await cri.call('StopPodSandbox', { pod_sandbox_id: p.id });
      await cri.call('RemovePodSandbox', { pod_sandbox_id: p.id });
      pods.delete(p.id);
    }
    // a container whose create/start was cut off: kubelet removes it and starts a new one
    for (const c of ctrs) {
      const m = pods.get(c.pod_sandbox_id);
      if (!m || m.containers.get(c.id) === c.state) continue;
      await cri.call('RemoveContainer', { container_id: c.id });
      m.containers.delete(c.id);
    }
    doubtfulNames.clear();
    doubtfulPods.clear();
    doubtfulStarts.clear();
    busy.clear();
  }

  it(`survives ${KILLS} SIGKILLs with exact state and no orphans`, async () => {
    const t0 = Date.now();
    let survived = 0;
    let vmPods = 0;
    let vmCut = 0;
    for (let k = 0; k < KILLS; k++) {
      const until = { killed: false };
      if (k % 7 === 3 && vmPods < VM_PODS) {
        // a VM pod is created (the kill waits for it), then lives through the following kills
        vmPods++;
        await createOne('microvm');
      }
      const workers = [worker(until), worker(until)];
      let cutVm: Promise<void> | undefined;
      if (k % 7 === 5 && vmCut < VM_CUT) {
        // the kill lands while a VM pod boots: the restart must roll it back (QEMU, virtiofsd, tap)
        vmCut++;
        cutVm = createOne('microvm').catch((e: unknown) => {
          if (!until.killed) throw e;
        });
        await new Promise((r) => setTimeout(r, 1000 + Math.random() * 4000));
      }
      await new Promise((r) => setTimeout(r, 300 + Math.random() * 2200));
      until.killed = true;
      await d.kill('SIGKILL');
      await Promise.all([...workers, cutVm]);
      await d.start();
      cri.close();
      cri = criClient(d.sock);
      await verifyAndReconcile(k);
      survived++;
    }
    for (const id of [...pods.keys()]) {
      await cri.call('StopPodSandbox', { pod_sandbox_id: id });
      await cri.call('RemovePodSandbox', { pod_sandbox_id: id });
      pods.delete(id);
    }
    const after = census();
    const table = censusTable(`churn: ${survived} SIGKILLs survived, ${seq} pods created (${vmPods} micro-VM kept, ${vmCut} killed while booting) in ${Math.round((Date.now() - t0) / 1000)}s`, baseline, after);
    console.log(table);
    writeFileSync(join(d.dir, 'census.txt'), table);
    const leaks = censusLeaks(baseline, after);
    if (leaks.length) console.log(diskBreakdown(targetOf(d)));
    expect(leaks).toEqual([]);
    expect(survived).toBe(KILLS);
  }, 120_000 + KILLS * 15_000);
});
