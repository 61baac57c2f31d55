// A micro-VM pod through the CRI handlers: real CNI bridge, netns + tap + tc redirect, QEMU (TCG here),
// guest agent, crun in the guest, container rootfs over virtio-fs, logs shipped to the kubelet path.
// The image comes from a directory-backed ImageSource (busybox-static tree) instead of a registry pull.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { randomBytes, randomInt } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { configSchema } from '../pkg/config/schema.js';
import { CniNetwork } from '../pkg/network/cni.js';
import { buildPodsSubsystem, type PodsSubsystem } from '../pkg/daemon/pods-subsystem.js';
import type { ImageSource } from '../pkg/container/image-source.js';
import { createLogger } from '../pkg/log/logger.js';
import { execFileResult as execCapture } from '../pkg/sys/exec-file.js';
import type { CallContext } from '../pkg/grpc/handlers.js';
import { podVmDir, type VmPodRuntime } from '../pkg/runtime/vm/vm-runtime.js';
import { VM_UID_BASE } from '../pkg/vm/qemu-privileges.js';
import { streamingBackend } from '../pkg/daemon/streaming-wiring.js';

const GUEST_CACHE = process.env.BULKHEAD_VM_TEST_CACHE ?? '/var/cache/bulkhead-tools/guest';
const log = createLogger((process.env.BULKHEAD_TEST_LOG as 'info') ?? 'warn');
const ctx = (): CallContext => ({ log, signal: new AbortController().signal });

const criRoot = new protobuf.Root().loadSync('api/cri/api.proto', { keepCase: true });
/** Decodes a request the way the gRPC server hands it to handlers (defaults, enums as names, int64 as strings). */
function req<T>(type: string, obj: Record<string, unknown>): T {
  const t = criRoot.lookupType(`runtime.v1.${type}`);
  return t.toObject(t.decode(t.encode(t.fromObject(obj)).finish()), { defaults: true, longs: String, enums: String, oneofs: true }) as T;
}

function busyboxTree(dir: string): void {
  for (const d of ['bin', 'proc', 'dev', 'sys', 'tmp', 'etc', 'root']) mkdirSync(join(dir, d), { recursive: true });
  cpSync('/bin/busybox', join(dir, 'bin/busybox'));
  for (const a of ['sh', 'echo', 'uname', 'cat', 'ls', 'sleep', 'ip', 'hostname', 'ping', 'wget', 'nc']) symlinkSync('busybox', join(dir, 'bin', a));
}

/** CRI responses type their fields optional; a test needs them present. */
function need<T>(v: T | undefined): T {
  if (v === undefined) throw new Error('missing field in CRI response');
  return v;
}

describe('micro-VM pod via the CRI handlers', () => {
  const bridge = `bhvm${randomBytes(3).toString('hex')}`;
  const net16 = `10.${200 + randomInt(50)}.${randomInt(256)}`;
  let root: string;
  let pods: PodsSubsystem;
  let rebuild: (poolSize?: number) => Promise<PodsSubsystem>;
  const timings: Record<string, number> = {};

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'bulkhead-test-vm-pod-'));
    busyboxTree(join(root, 'image'));
    const confDir = join(root, 'net.d');
    mkdirSync(confDir);
    writeFileSync(
      join(confDir, '10-vmtest.conflist'),
      JSON.stringify({
        cniVersion: '1.0.0',
        name: 'bhvmtest',
        plugins: [{ type: 'bridge', bridge, isGateway: true, ipMasq: false, ipam: { type: 'host-local', subnet: `${net16}.0/24`, routes: [{ dst: '0.0.0.0/0' }], dataDir: join(root, 'ipam') } }],
      }),
    );
    const config = (poolSize: number) =>
      configSchema.parse({
        root: join(root, 'root'),
        state: join(root, 'state'),
        address: join(root, 'cri.sock'),
        cni: { conf_dir: confDir, bin_dirs: ['/usr/lib/cni'] },
        runtime_handlers: { runc: { kind: 'oci' }, microvm: { kind: 'vm', memory_mib: 256, guest_root: GUEST_CACHE, pool_size: poolSize } },
      });
    const network = new CniNetwork({ confDir, binDirs: ['/usr/lib/cni'], cacheDir: join(root, 'cni-cache'), log });
    const images: ImageSource = {
      resolve: (ref) => (ref === 'local/busybox:test' ? { id: 'a'.repeat(64), repoTags: [ref], repoDigests: [], config: { config: { Cmd: ['sh'] } } } : undefined),
      acquireLayers: async () => [join(root, 'image')],
      releaseLayers: async () => undefined,
    };
    rebuild = (poolSize = 0) => buildPodsSubsystem({ config: config(poolSize), log, network, images });
    pods = await rebuild();
  });

  afterAll(async () => {
    for (const sb of pods?.sandboxes.all() ?? []) await pods.handlers.RemovePodSandbox!({ pod_sandbox_id: sb.id }, ctx()).catch(() => undefined);
    await pods?.close();
    await execCapture('ip', ['link', 'del', bridge]);
    rmSync(root, { recursive: true, force: true });
    console.log('vm-pod timings (ms):', JSON.stringify(Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, Math.round(v)]))));
  });

  const podConfig = (name: string, extra: Record<string, unknown> = {}) => ({
    metadata: { name, namespace: 'default', uid: randomBytes(8).toString('hex'), attempt: 0 },
    hostname: name,
    log_directory: join(root, 'logs', name),
    dns_config: { servers: ['10.0.0.10'], searches: ['svc.cluster.local'], options: ['ndots:5'] },
    linux: {},
    ...extra,
  });

  it('rejects host namespaces with InvalidArgument and leaks nothing', async () => {
    const r = pods.handlers.RunPodSandbox!(
      req('RunPodSandboxRequest', { config: podConfig('hostnet', { linux: { security_context: { namespace_options: { network: 'NODE' } } } }), runtime_handler: 'microvm' }),
      ctx(),
    );
    await expect(r).rejects.toMatchObject({ kind: 'invalid-argument', message: expect.stringMatching(/hostNetwork cannot be honoured/) });
    expect(pods.sandboxes.all()).toEqual([]);
  });

  it('runs a pod VM: container output in the kubelet log path, guest network from CNI, clean removal', async () => {
    const t0 = performance.now();
    const podId = need((await pods.handlers.RunPodSandbox!(req('RunPodSandboxRequest', { config: podConfig('vmpod'), runtime_handler: 'microvm' }), ctx())).pod_sandbox_id);
    timings.runPodSandboxMs = performance.now() - t0;
    const status = await pods.handlers.PodSandboxStatus!(req('PodSandboxStatusRequest', { pod_sandbox_id: podId }), ctx());
    const podIp = status.status!.network!.ip;
    expect(podIp).toMatch(new RegExp(`^${net16.replace(/\./g, '\\.')}\\.`));

    const t1 = performance.now();
    const cid = need((await pods.handlers.CreateContainer!(
      req('CreateContainerRequest', {
        pod_sandbox_id: podId,
        config: {
          metadata: { name: 'main', attempt: 0 },
          image: { image: 'local/busybox:test' },
          command: ['sh', '-c', 'echo kernel=$(uname -r); ip -o -4 addr show eth0; cat /etc/resolv.conf; hostname; ping -c 1 -W 5 ' + `${net16}.1` + ' >/dev/null && echo ping-ok; exit 4'],
          log_path: 'main/0.log',
        },
        sandbox_config: podConfig('vmpod'),
      }),
      ctx(),
    )).container_id);
    await pods.handlers.StartContainer!({ container_id: cid }, ctx());
    timings.createToStartedMs = performance.now() - t1;
    timings.runPodSandboxToContainerRunningMs = performance.now() - t0;
    let st;
    for (let i = 0; i < 300; i++) {
      st = (await pods.handlers.ContainerStatus!(req('ContainerStatusRequest', { container_id: cid }), ctx())).status!;
      if (st.state === 'CONTAINER_EXITED') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(st!.state).toBe('CONTAINER_EXITED');
    expect(st!.exit_code).toBe(4);
    const logText = readFileSync(join(root, 'logs', 'vmpod', 'main', '0.log'), 'utf8');
    expect(logText).toMatch(/ stdout F kernel=\d+\.\d+\.\d+-\d+-cloud-amd64\n/);
    expect(logText).toContain(`inet ${podIp}/24`);
    expect(logText).toContain('stdout F nameserver 10.0.0.10');
    expect(logText).toContain('stdout F search svc.cluster.local');
    expect(logText).toContain('stdout F vmpod');
    expect(logText).toContain('stdout F ping-ok');

    // host → guest over the CNI bridge
    const ping = await execCapture('/bin/busybox', ['ping', '-c', '1', '-W', '5', podIp!]);
    expect(ping.code).toBe(0);

    await pods.handlers.RemoveContainer!({ container_id: cid }, ctx());

    // A second container: resources update inside the guest, then StopContainer (SIGTERM; the pod
    // shares one PID namespace, so sleep is not its PID 1 and dies of it).
    const c2 = need((await pods.handlers.CreateContainer!(
      req('CreateContainerRequest', {
        pod_sandbox_id: podId,
        config: { metadata: { name: 'sleeper', attempt: 0 }, image: { image: 'local/busybox:test' }, command: ['sleep', '100000'], log_path: 'sleeper/0.log' },
        sandbox_config: podConfig('vmpod'),
      }),
      ctx(),
    )).container_id);
    await pods.handlers.StartContainer!({ container_id: c2 }, ctx());
    await pods.handlers.UpdateContainerResources!(req('UpdateContainerResourcesRequest', { container_id: c2, linux: { memory_limit_in_bytes: 64 << 20 } }), ctx());
    const mem = await pods.handlers.ExecSync!(
      req('ExecSyncRequest', { container_id: c2, cmd: ['sh', '-c', 'cat /sys/fs/cgroup$(cut -d: -f3 /proc/self/cgroup)/memory.max 2>&1 || cat /proc/self/cgroup /proc/self/mountinfo'], timeout: 30 }),
      ctx(),
    );
    expect(Buffer.from(mem.stdout!).toString().trim()).toBe(String(64 << 20));
    const t3 = performance.now();
    await pods.handlers.StopContainer!({ container_id: c2, timeout: '1' }, ctx());
    timings.stopContainerTimeout1sMs = performance.now() - t3;
    const st2 = (await pods.handlers.ContainerStatus!(req('ContainerStatusRequest', { container_id: c2 }), ctx())).status!;
    expect(st2.state).toBe('CONTAINER_EXITED');
    expect(st2.exit_code).toBe(143);
    await pods.handlers.RemoveContainer!({ container_id: c2 }, ctx());
    const sb = pods.sandboxes.get(podId);
    const stateDir = sb.stateDir;
    const t2 = performance.now();
    await pods.handlers.StopPodSandbox!({ pod_sandbox_id: podId }, ctx());
    timings.stopPodSandboxMs = performance.now() - t2;
    await pods.handlers.RemovePodSandbox!({ pod_sandbox_id: podId }, ctx());
    expect(existsSync(stateDir)).toBe(false);
    const ps = await execCapture('sh', ['-c', `ps -eo args | grep -c "[b]ulkhead-${podId.slice(0, 12)}" || true`]);
    expect(ps.stdout.trim()).toBe('0');
  });

  it('reattaches after a daemon restart, and notices VM death at once', async () => {
    const podId = need((await pods.handlers.RunPodSandbox!(req('RunPodSandboxRequest', { config: podConfig('vmpod2'), runtime_handler: 'microvm' }), ctx())).pod_sandbox_id);
    const cid = need((await pods.handlers.CreateContainer!(
      req('CreateContainerRequest', {
        pod_sandbox_id: podId,
        config: {
          metadata: { name: 'idle', attempt: 0 },
          image: { image: 'local/busybox:test' },
          command: ['sh', '-c', 'i=0; while true; do echo tick $i; i=$((i+1)); sleep 1; done'],
          log_path: 'idle/0.log',
        },
        sandbox_config: podConfig('vmpod2'),
      }),
      ctx(),
    )).container_id);
    await pods.handlers.StartContainer!({ container_id: cid }, ctx());
    const vmDir = join(pods.sandboxes.get(podId).stateDir, 'vm');
    const qemuPid = Number(readFileSync(join(vmDir, 'qemu.pid'), 'utf8'));
    const vfsPid = Number(readFileSync(join(vmDir, 'virtiofsd.pid'), 'utf8'));
    // QEMU gave up root after set-up: its own uid, no capabilities, no way back (NoNewPrivs).
    const qemuStatus = readFileSync(`/proc/${qemuPid}/status`, 'utf8');
    expect(Number(/^Uid:\s+(\d+)/m.exec(qemuStatus)![1])).toBeGreaterThanOrEqual(VM_UID_BASE);
    expect(qemuStatus).toMatch(/^CapEff:\s+0+$/m);
    expect(qemuStatus).toMatch(/^NoNewPrivs:\s+1$/m);
    await new Promise((r) => setTimeout(r, 3000)); // let the idle guest settle before measuring
    const pss = (pid: number): number => Number(/^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))![1]) / 1024;
    timings.idlePodQemuPssMiB = pss(qemuPid);
    timings.idlePodVirtiofsdPssMiB = pss(vfsPid);

    // "Restart" the daemon: drop every in-memory object, recover from disk, talk to the same VM.
    await pods.close();
    pods = await rebuild();
    const st = (await pods.handlers.ContainerStatus!(req('ContainerStatusRequest', { container_id: cid }), ctx())).status!;
    expect(st.state).toBe('CONTAINER_RUNNING');
    const cs = await pods.handlers.ContainerStats!(req('ContainerStatsRequest', { container_id: cid }), ctx());
    expect(Number(cs.stats!.memory!.working_set_bytes!.value)).toBeGreaterThan(0);
    expect(Number(cs.stats!.cpu!.usage_core_nano_seconds!.value)).toBeGreaterThan(0);
    const ex = await pods.handlers.ExecSync!(req('ExecSyncRequest', { container_id: cid, cmd: ['sh', '-c', 'echo reattached; exit 2'], timeout: 30 }), ctx());
    expect(Buffer.from(ex.stdout!).toString()).toBe('reattached\n');
    expect(ex.exit_code).toBe(2);
    // Streaming backend (what CRI Exec / PortForward sessions use) for the VM pod, after the restart.
    const streaming = streamingBackend(pods);
    const proc = await streaming.exec(cid, ['sh', '-c', 'read line; echo got:$line; echo err >&2; exit 5'], { tty: false, stdin: true, stdout: true, stderr: true });
    let so = '';
    let se = '';
    proc.stdout!.on('data', (b: Buffer) => (so += b.toString()));
    proc.stderr!.on('data', (b: Buffer) => (se += b.toString()));
    proc.stdin!.end('hello-stdin\n');
    expect(await proc.wait()).toEqual({ exitCode: 5 });
    expect(so).toBe('got:hello-stdin\n');
    expect(se).toBe('err\n');
    // ExecSync ends when the command's output pipes close (both kinds, as containerd drains IO):
    // the background listener must not hold them.
    await pods.handlers.ExecSync!(req('ExecSyncRequest', { container_id: cid, cmd: ['sh', '-c', '(echo pf-hello-from-guest | nc -l -p 8080 >/dev/null 2>&1 &) ; sleep 0.5'], timeout: 30 }), ctx());
    const pf = await streaming.portForward(podId, 8080);
    let pfData = '';
    pf.on('data', (b: Buffer) => (pfData += b.toString()));
    pf.end('client-bytes\n');
    await new Promise<void>((resolve, reject) => (pf.on('end', () => resolve()), pf.on('error', reject)));
    expect(pfData).toBe('pf-hello-from-guest\n');
    // tty exec: a real pty in the container (crun's proxy under `script` in the guest).
    const tty = await streaming.exec(cid, ['sh', '-c', 'tty; echo tty-ok; exit 3'], { tty: true, stdin: false, stdout: true, stderr: false });
    let ttyOut = '';
    tty.stdout!.on('data', (b: Buffer) => (ttyOut += b.toString()));
    expect(await tty.wait()).toEqual({ exitCode: 3 });
    expect(ttyOut).toMatch(/\/dev\/pts\/\d+\r\n/);
    expect(ttyOut).toContain('tty-ok\r\n');
    // Terminal resize reaches the exec's pty in the guest (sent at once, as kubectl sends the first size).
    const sized = await streaming.exec(cid, ['sh', '-c', 'sleep 3; stty size'], { tty: true, stdin: false, stdout: true, stderr: false });
    let sizedOut = '';
    sized.stdout!.on('data', (b: Buffer) => (sizedOut += b.toString()));
    sized.resize!(90, 20);
    expect(await sized.wait()).toEqual({ exitCode: 0 });
    // (Output of a tty exec in a VM pod starts with "^@": see docs/microvm-pods.md.)
    expect(sizedOut).toContain('20 90\r\n');
    // Flow control: while nobody reads stdout, the host holds at most about one credit window of a
    // fast producer's output; everything arrives once reading resumes.
    const total = 8 << 20;
    const big = await streaming.exec(cid, ['/bin/busybox', 'head', '-c', String(total), '/dev/zero'], { tty: false, stdin: false, stdout: true, stderr: true });
    const out = big.stdout as import('node:stream').PassThrough;
    // (TCG: the exec may take seconds to start producing.)
    for (let i = 0; i < 300 && out.readableLength + out.writableLength === 0; i++) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 3000));
    const held = out.readableLength + out.writableLength;
    expect(held).toBeGreaterThan(0);
    expect(held).toBeLessThan(1 << 20);
    let got = 0;
    out.on('data', (b: Buffer) => (got += b.length));
    const ended = new Promise((r) => out.on('end', r));
    expect(await big.wait()).toEqual({ exitCode: 0 });
    await ended;
    expect(got).toBe(total);

    const t1 = performance.now();
    // The ExecSync contract of every pod kind (pkg/container/exec-sync.ts): DEADLINE_EXCEEDED, as on runc pods.
    await expect(pods.handlers.ExecSync!(req('ExecSyncRequest', { container_id: cid, cmd: ['sleep', '60'], timeout: 2 }), ctx())).rejects.toMatchObject({ kind: 'deadline-exceeded' });
    expect(performance.now() - t1).toBeLessThan(15_000);

    // The log keeps flowing into the kubelet path after the restart, without gaps or duplicates.
    await new Promise((r) => setTimeout(r, 3000));
    const ticks = readFileSync(join(root, 'logs', 'vmpod2', 'idle', '0.log'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => Number(/ stdout F tick (\d+)$/.exec(l)?.[1]));
    expect(ticks.length).toBeGreaterThan(5);
    expect(ticks).toEqual(ticks.map((_, i) => i));

    // QEMU dies: the container turns exited with the reason, without any polling by kubelet.
    const t0 = performance.now();
    process.kill(qemuPid, 'SIGKILL');
    let dead;
    for (let i = 0; i < 100; i++) {
      dead = (await pods.handlers.ContainerStatus!(req('ContainerStatusRequest', { container_id: cid }), ctx())).status!;
      if (dead.state === 'CONTAINER_EXITED') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    timings.vmDeathNoticedMs = performance.now() - t0;
    expect(dead!.state).toBe('CONTAINER_EXITED');
    expect(dead!.reason).toBe('PodVMDied');
    expect(dead!.message).toContain('micro-VM exited');

    const stateDir = pods.sandboxes.get(podId).stateDir;
    await pods.handlers.RemovePodSandbox!({ pod_sandbox_id: podId }, ctx());
    expect(existsSync(stateDir)).toBe(false);
    for (const pid of [qemuPid, vfsPid]) expect(existsSync(`/proc/${pid}/cmdline`) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(vmDir)).toBe(false);
  });

  it('takes a pre-booted VM from the warm pool', async () => {
    await pods.close();
    pods = await rebuild(1);
    const rt = pods.runtimes.get('microvm') as VmPodRuntime;
    for (let i = 0; i < 600 && rt.info().poolReady < 1; i++) await new Promise((r) => setTimeout(r, 100));
    expect(rt.info().poolReady).toBe(1);
    const t0 = performance.now();
    const podId = need((await pods.handlers.RunPodSandbox!(req('RunPodSandboxRequest', { config: podConfig('warm'), runtime_handler: 'microvm' }), ctx())).pod_sandbox_id);
    timings.warmRunPodSandboxMs = performance.now() - t0;
    const cid = need((await pods.handlers.CreateContainer!(
      req('CreateContainerRequest', {
        pod_sandbox_id: podId,
        config: { metadata: { name: 'w', attempt: 0 }, image: { image: 'local/busybox:test' }, command: ['sh', '-c', 'ip -o -4 addr show eth0; hostname'], log_path: 'w/0.log' },
        sandbox_config: podConfig('warm'),
      }),
      ctx(),
    )).container_id);
    await pods.handlers.StartContainer!({ container_id: cid }, ctx());
    timings.warmRunPodSandboxToContainerRunningMs = performance.now() - t0;
    const podIp = (await pods.handlers.PodSandboxStatus!(req('PodSandboxStatusRequest', { pod_sandbox_id: podId }), ctx())).status!.network!.ip;
    let st;
    for (let i = 0; i < 300; i++) {
      st = (await pods.handlers.ContainerStatus!(req('ContainerStatusRequest', { container_id: cid }), ctx())).status!;
      if (st.state === 'CONTAINER_EXITED') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(st!.exit_code).toBe(0);
    const logText = readFileSync(join(root, 'logs', 'warm', 'w', '0.log'), 'utf8');
    expect(logText).toContain(`inet ${podIp}/24`);
    expect(logText).toContain('stdout F warm');
    expect((await execCapture('/bin/busybox', ['ping', '-c', '1', '-W', '5', podIp!])).code).toBe(0);

    // virtiofsd dies: the pod VM is stopped, its running container turns exited saying why.
    const sleeper = need((await pods.handlers.CreateContainer!(
      req('CreateContainerRequest', {
        pod_sandbox_id: podId,
        config: { metadata: { name: 's', attempt: 0 }, image: { image: 'local/busybox:test' }, command: ['sleep', '100000'], log_path: 's/0.log' },
        sandbox_config: podConfig('warm'),
      }),
      ctx(),
    )).container_id);
    await pods.handlers.StartContainer!({ container_id: sleeper }, ctx());

    // A daemon restart keeps the pod that took the pool VM: the new pool's start-up cleanup used to
    // SIGKILL its QEMU and unpin its netns. Wait until the new pool has cleaned and refilled.
    await pods.close();
    pods = await rebuild(1);
    const rt2 = pods.runtimes.get('microvm') as VmPodRuntime;
    for (let i = 0; i < 600 && rt2.info().poolReady < 1; i++) await new Promise((r) => setTimeout(r, 100));
    expect(rt2.info().poolReady).toBe(1);
    expect((await pods.handlers.ContainerStatus!(req('ContainerStatusRequest', { container_id: sleeper }), ctx())).status!.state).toBe('CONTAINER_RUNNING');
    const still = await pods.handlers.ExecSync!(req('ExecSyncRequest', { container_id: sleeper, cmd: ['echo', 'still here'], timeout: 30 }), ctx());
    expect(Buffer.from(still.stdout!).toString()).toBe('still here\n');

    const stateDir = pods.sandboxes.get(podId).stateDir;
    process.kill(Number(readFileSync(join(podVmDir(stateDir), 'virtiofsd.pid'), 'utf8')), 'SIGKILL');
    let dead;
    for (let i = 0; i < 200; i++) {
      dead = (await pods.handlers.ContainerStatus!(req('ContainerStatusRequest', { container_id: sleeper }), ctx())).status!;
      if (dead.state === 'CONTAINER_EXITED') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(dead!.state).toBe('CONTAINER_EXITED');
    expect(dead!.reason).toBe('PodVMDied');
    expect(dead!.message).toContain('virtiofsd exited');
    expect((await pods.handlers.PodSandboxStatus!(req('PodSandboxStatusRequest', { pod_sandbox_id: podId }), ctx())).status!.state).toBe('SANDBOX_NOTREADY');
    await pods.handlers.RemovePodSandbox!({ pod_sandbox_id: podId }, ctx());
    await pods.close(); // stops the refill and kills the pool VM
    expect(readdirSync(join(root, 'state', 'vm-pool', 'microvm'))).toEqual([]);
    pods = await rebuild(0);
  });
});
