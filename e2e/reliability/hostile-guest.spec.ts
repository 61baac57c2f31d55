// A hostile guest against a real daemon. A privileged container of a micro-VM pod is root in the
// guest with CAP_MKNOD and the guest's devices: it tries to write a junk frame into the agent's
// virtio-serial port (the kind of frame that, before the channel validated guest input, threw in
// the daemon's socket handler and killed bulkheadd). The port admits one opener, the agent, so the
// write is refused; what a guest that does get frames onto the channel (a subverted agent or guest
// kernel) meets is covered by pkg/vmchannel's tests and fuzzer and by
// pkg/runtime/vm/agent-channel.test.ts (the pod ends PodVMDied naming the violation). A guest that
// floods its log is measured against the daemon's RSS and a trivial RPC's latency.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownDaemon, VM_HANDLERS_TOML, type OwnDaemon } from '../lib/own-daemon.js';
import { criClient, type CriClient } from '../lib/cri-grpc.js';
import { targetOf } from '../lib/census-target.js';
import { censusLeaks, censusTable, takeCensus, type Census } from '../lib/host-census.js';

const IMAGE = 'docker.io/library/busybox:latest';
const isRoot = process.getuid?.() === 0;
const vmEnabled = process.env.BULKHEAD_RELIABILITY_VM !== '0';

// u32 BE length 4 | u32 BE stream 0 (agent events) | u8 kind 6 (Event) | 4 bytes that are no protobuf.
const JUNK_EVENT_FRAME = '\\000\\000\\000\\004\\000\\000\\000\\000\\006\\377\\377\\377\\377';
// The attacker finds the agent's virtio-serial port as the guest's init does (by its name in
// sysfs) and, as root with CAP_MKNOD, makes its device node if the container's /dev lacks it.
const FIND_AGENT_PORT =
  'for n in /sys/class/virtio-ports/*/name; do [ "$(cat $n)" = agent ] && p=$(dirname $n); done; ' +
  'dev=/dev/$(basename $p); [ -c $dev ] || mknod $dev c $(cut -d: -f1 $p/dev) $(cut -d: -f2 $p/dev); ls -l $dev';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

describe.skipIf(!isRoot || !vmEnabled)('hostile guest', () => {
  let d: OwnDaemon;
  let cri: CriClient;
  let baseline: Census;
  let n = 0;

  beforeAll(async () => {
    d = ownDaemon('hostile-guest', { extraToml: VM_HANDLERS_TOML });
    await d.start();
    await d.crictl('pull', IMAGE);
    cri = criClient(d.sock);
    baseline = takeCensus(targetOf(d));
  });
  afterAll(async () => {
    cri?.close();
    await d?.cleanup();
  });

  const podCfg = (privileged: boolean) => {
    const name = `hostile-${n++}`;
    return {
      metadata: { name, namespace: 'hostile', uid: `${name}-uid`, attempt: 0 },
      log_directory: join(d.logDir, name),
      linux: privileged ? { security_context: { privileged: true } } : {},
    };
  };
  async function runPod(handler: string, cmd: string[], privileged = false): Promise<{ pod: string; ctr: string }> {
    const cfg = podCfg(privileged);
    const { pod_sandbox_id: pod } = await cri.call<{ pod_sandbox_id: string }>('RunPodSandbox', { config: cfg, runtime_handler: handler }, 180_000);
    const { container_id: ctr } = await cri.call<{ container_id: string }>('CreateContainer', {
      pod_sandbox_id: pod,
      config: {
        metadata: { name: 'c', attempt: 0 },
        image: { image: IMAGE },
        command: cmd,
        log_path: 'c.log',
        linux: privileged ? { security_context: { privileged: true } } : {},
      },
      sandbox_config: cfg,
    }, 180_000);
    await cri.call('StartContainer', { container_id: ctr }, 180_000);
    return { pod, ctr };
  }
  const ctrStatus = async (id: string) =>
    (await cri.call<{ status: { state: string; exit_code: number; reason: string; message: string } }>('ContainerStatus', { container_id: id })).status;

  it('root in a privileged VM container cannot write into the agent channel; daemon and pods unaffected', async () => {
    const bystander = await runPod('runc', ['sleep', '3600']);
    const daemonPid = d.proc!.pid!;
    const attacker = await runPod('microvm', ['sh', '-c', `sleep 2; ${FIND_AGENT_PORT}; printf '${JUNK_EVENT_FRAME}' > $dev; echo "wrote: $?"; sleep 3600`], true);
    const logFile = join(d.logDir, 'hostile-1', 'c.log');
    const log = await until('the attacker to report', () => {
      try {
        const text = readFileSync(logFile, 'utf8');
        return text.includes('wrote:') ? text : undefined;
      } catch {
        return undefined;
      }
    }, 120_000);
    // A virtio-console port has one opener, the agent: the device refuses a second (EBUSY).
    expect(log).toMatch(/Device or resource busy/);
    expect(log).toContain('wrote: 1');
    expect((await ctrStatus(attacker.ctr)).state).toBe('CONTAINER_RUNNING');
    const fromVm = await cri.call<{ stdout: Buffer }>('ExecSync', { container_id: attacker.ctr, cmd: ['echo', 'agent still answers'], timeout: 30 }, 60_000);
    expect(fromVm.stdout.toString()).toBe('agent still answers\n');

    // The daemon is the same process and serves: Version, the bystander.
    expect(d.proc!.exitCode).toBeNull();
    expect(d.proc!.pid).toBe(daemonPid);
    await cri.call('Version', {});
    const out = await cri.call<{ stdout: Buffer }>('ExecSync', { container_id: bystander.ctr, cmd: ['echo', 'still serving'], timeout: 10 });
    expect(out.stdout.toString()).toBe('still serving\n');

    for (const { pod } of [attacker, bystander]) {
      await cri.call('StopPodSandbox', { pod_sandbox_id: pod }, 60_000);
      await cri.call('RemovePodSandbox', { pod_sandbox_id: pod }, 60_000);
    }
    const after = takeCensus(targetOf(d));
    const leaks = censusLeaks(baseline, after);
    if (leaks.length) console.log(censusTable('after the hostile guest', baseline, after));
    expect(leaks).toEqual([]);
  });

  it('a guest flooding its log keeps the daemon responsive and its memory bounded', async () => {
    const rssMiB = (): number => Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${d.proc!.pid}/status`, 'utf8'))![1]) / 1024;
    const idleRss = rssMiB();
    // 200 MB of log lines as fast as the guest can write them (the log is shipped to the host file).
    const flood = await runPod('microvm', ['sh', '-c', 'yes 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef | head -c 200000000; sleep 3600']);
    const lat: number[] = [];
    let peakRss = idleRss;
    const end = Date.now() + 20_000;
    while (Date.now() < end) {
      const t0 = performance.now();
      await cri.call('Version', {});
      lat.push(performance.now() - t0);
      peakRss = Math.max(peakRss, rssMiB());
      await sleep(100);
    }
    lat.sort((a, b) => a - b);
    const q = (p: number): number => Math.round(lat[Math.min(lat.length - 1, Math.floor(p * lat.length))]! * 10) / 10;
    const logBytes = statSync(join(d.logDir, 'hostile-2', 'c.log')).size;
    console.log(`hostile-guest flood: ${lat.length} Version calls p50 ${q(0.5)} ms, p99 ${q(0.99)} ms, max ${q(1)} ms; daemon RSS ${idleRss.toFixed(0)} MiB idle → ${peakRss.toFixed(0)} MiB peak; ${(logBytes / 1e6).toFixed(0)} MB of log shipped in 20 s`);
    expect(logBytes).toBeGreaterThan(0);
    // Bounds with room for a loaded 2-core machine: the log queue is 1 MiB per stream.
    expect(peakRss - idleRss).toBeLessThan(150);
    expect(q(0.99)).toBeLessThan(1000);
    await cri.call('StopPodSandbox', { pod_sandbox_id: flood.pod }, 60_000);
    await cri.call('RemovePodSandbox', { pod_sandbox_id: flood.pod }, 60_000);
  });
});
