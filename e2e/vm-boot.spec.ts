// Boots a real micro-VM (TCG here) from the built guest image, talks to the agent over virtio-serial,
// runs a busybox container with crun inside the guest and shuts everything down.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureGuestImage, mkErofs, type GuestImage } from '../pkg/vm/guest-image.js';
import { MicroVm } from '../pkg/vm/micro-vm.js';
import { detectAccelerator } from '../pkg/vm/accelerator.js';
import { hostTscKhz } from '../pkg/vm/tsc.js';
import { minimalGuestSpec } from '../pkg/vm/guest-spec.js';
import { startVirtiofsd } from '../pkg/vm/virtiofsd.js';
import { createLogger } from '../pkg/log/logger.js';

// The guest image build is cached across runs (rebuilt only when its inputs change).
const CACHE_ROOT = process.env.BULKHEAD_VM_TEST_CACHE ?? '/var/cache/bulkhead-tools/guest';
const log = createLogger((process.env.BULKHEAD_TEST_LOG as 'info') ?? 'warn');

function busyboxRootfs(dir: string): void {
  for (const d of ['bin', 'proc', 'dev', 'sys', 'tmp', 'etc', 'root']) mkdirSync(join(dir, d), { recursive: true });
  cpSync('/bin/busybox', join(dir, 'bin/busybox'));
  for (const a of ['sh', 'echo', 'uname', 'cat', 'ls', 'sleep', 'id', 'hostname']) symlinkSync('busybox', join(dir, 'bin', a));
}

describe('micro-VM boot (QEMU + guest agent)', () => {
  let tmp: string;
  let image: GuestImage;
  let vm: MicroVm | undefined;
  const allVms: MicroVm[] = [];
  const timings: Record<string, number> = {};

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'bulkhead-test-vm-'));
    const t0 = performance.now();
    image = await ensureGuestImage(CACHE_ROOT);
    timings.guestImageMs = performance.now() - t0;
    busyboxRootfs(join(tmp, 'bb'));
    await mkErofs(join(tmp, 'bb'), join(tmp, 'bb.erofs'), { allRoot: true });
  });

  afterAll(async () => {
    for (const v of allVms) {
      if (!v.exit) {
        v.kill();
        await v.exited;
      }
    }
    rmSync(tmp, { recursive: true, force: true });
    console.log('vm-boot timings (ms):', JSON.stringify(Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, Math.round(v)]))));
  });

  it('boots, answers Ping, runs a container with crun, shuts down cleanly', async () => {
    const accel = detectAccelerator();
    console.log('accelerator:', accel);
    const t0 = performance.now();
    vm = await MicroVm.launch({
      qemuPath: 'qemu-system-x86_64',
      stateDir: join(tmp, 'vm'),
      log,
      spec: {
        name: 'bulkhead-test-vm',
        accel: accel.accel,
        memoryMib: 256,
        vcpus: 1,
        kernel: image.kernel,
        initrd: image.initrd,
        rootfs: image.rootfs,
        disks: [{ serial: 'layer0', path: join(tmp, 'bb.erofs'), readonly: true }],
        nics: [],
        tscKhz: hostTscKhz(),
      },
    });
    allVms.push(vm);
    timings.spawnToQmpMs = performance.now() - t0;
    await vm.connectAgent(60_000);
    timings.spawnToAgentReadyMs = performance.now() - t0;

    const ping = await vm.agent.call('ping', {}, { timeoutMs: 5000 });
    expect(ping.kernel_release).toBe(image.kernelRelease);
    expect(ping.guest_stamp).toBe(image.stamp);
    expect((await vm.qmp.queryStatus()).running).toBe(true);

    const t1 = performance.now();
    const spec = minimalGuestSpec({ args: ['sh', '-c', 'echo hello from $(uname -n); uname -r; echo oops >&2; exit 3'] });
    await vm.agent.call('create_container', { container_id: 'c1', spec_json: JSON.stringify(spec), rootfs: { block_serial: 'layer0' } });
    let logText = '';
    let logClosed!: () => void;
    const closed = new Promise<void>((r) => (logClosed = r));
    const follow = vm.agent.openStream('follow_logs', { container_id: 'c1', offset: '0' }, { onData: (_fd, b) => (logText += b.toString()), onClose: () => logClosed() });
    await follow.response;
    await vm.agent.call('start_container', { container_id: 'c1' });
    const wait = await vm.agent.call('wait_container', { container_id: 'c1' }, { timeoutMs: 60_000 });
    timings.containerCreateToExitMs = performance.now() - t1;
    await closed;
    expect(wait.exit_code).toBe(3);
    expect(wait.reason).toBe('Error');
    const lines = logText.trim().split('\n');
    expect(lines.some((l) => / stdout F hello from /.test(l))).toBe(true);
    expect(lines.some((l) => l.endsWith(` stdout F ${image.kernelRelease}`))).toBe(true);
    expect(lines.some((l) => / stderr F oops$/.test(l))).toBe(true);

    // exec in a running container
    await vm.agent.call('delete_container', { container_id: 'c1' });
    await vm.agent.call('create_container', { container_id: 'c2', spec_json: JSON.stringify(minimalGuestSpec({ args: ['sleep', '1000'] })), rootfs: { block_serial: 'layer0' } });
    await vm.agent.call('start_container', { container_id: 'c2' });
    let execOut = '';
    let execExit: number | undefined;
    const execDone = new Promise<void>((resolve) => {
      const s = vm!.agent.openStream(
        'exec_process',
        { container_id: 'c2', args: ['sh', '-c', 'echo in-exec; exit 7'] },
        { onData: (_fd, b) => (execOut += b.toString()), onClose: (st) => ((execExit = st?.exit_code), resolve()) },
      );
      s.response.catch(() => resolve());
    });
    await execDone;
    expect(execOut).toBe('in-exec\n');
    expect(execExit).toBe(7);
    const stats = await vm.agent.call('stats', { container_ids: ['c2'] });
    expect(Number(stats.stats[0]?.memory_usage_bytes)).toBeGreaterThan(0);
    await vm.agent.call('signal_container', { container_id: 'c2', signal: 9 });
    const w2 = await vm.agent.call('wait_container', { container_id: 'c2' }, { timeoutMs: 30_000 });
    expect(w2.exit_code).toBe(137);

    // Reconnect: drop the channel and attach again, as a restarted daemon would.
    vm.agent.close();
    await vm.connectAgent(10_000);
    const again = await vm.agent.call('list_containers', {}, { timeoutMs: 5000 });
    expect(again.containers.map((c) => c.container_id)).toEqual(['c2']);

    const t2 = performance.now();
    const exit = await vm.shutdown(10_000);
    timings.shutdownMs = performance.now() - t2;
    expect(exit.via).toBe('process');
    expect(exit.code).toBe(0);
    let alive = true;
    try {
      process.kill(vm.pid, 0);
    } catch {
      alive = false;
    }
    expect(alive).toBe(false);
    vm.destroy();
    expect(existsSync(join(tmp, 'vm'))).toBe(false);
    expect(readdirSync(tmp).sort()).toEqual(['bb', 'bb.erofs']);
  });

  it('runs a container whose rootfs comes over virtio-fs (one virtiofsd per VM)', async () => {
    const share = join(tmp, 'share');
    busyboxRootfs(join(share, 'c1', 'rootfs'));
    const state = join(tmp, 'vm2');
    mkdirSync(state);
    const vfs = await startVirtiofsd({ sharedDir: share, socket: join(state, 'vfs.sock'), logFile: join(state, 'virtiofsd.log') });
    const t0 = performance.now();
    vm = await MicroVm.launch({
      qemuPath: 'qemu-system-x86_64',
      stateDir: state,
      log,
      spec: {
        name: 'bulkhead-test-vm',
        accel: detectAccelerator().accel,
        memoryMib: 256,
        vcpus: 1,
        kernel: image.kernel,
        initrd: image.initrd,
        rootfs: image.rootfs,
        disks: [],
        nics: [],
        tscKhz: hostTscKhz(),
        sharedFs: { socket: vfs.socket, tag: 'bulkhead' },
      },
    });
    allVms.push(vm);
    try {
      await vm.connectAgent(60_000);
      timings.virtiofsSpawnToAgentReadyMs = performance.now() - t0;
      await vm.agent.call('setup_sandbox', { hostname: 'vfs-pod', shared_fs_tag: 'bulkhead' });
      const t1 = performance.now();
      const spec = minimalGuestSpec({ args: ['sh', '-c', 'echo written-in-guest > /marker; hostname; exit 0'] });
      await vm.agent.call('create_container', { container_id: 'v1', spec_json: JSON.stringify(spec), rootfs: { shared_path: 'c1/rootfs' } });
      await vm.agent.call('start_container', { container_id: 'v1' });
      const w = await vm.agent.call('wait_container', { container_id: 'v1' }, { timeoutMs: 60_000 });
      timings.virtiofsContainerCreateToExitMs = performance.now() - t1;
      expect(w.exit_code).toBe(0);
      expect(w.reason).toBe('Completed');
      // The write went through virtio-fs to the host directory.
      expect(readFileSync(join(share, 'c1', 'rootfs', 'marker'), 'utf8')).toBe('written-in-guest\n');
      await vm.agent.call('delete_container', { container_id: 'v1' });
      await vm.shutdown(10_000);
    } finally {
      if (!vm.exit) vm.kill();
      await vm.exited;
      vfs.kill();
      await vfs.exited;
    }
    vm.destroy();
    expect(execFileSync('sh', ['-c', `ps -eo pid,args | grep -c '[b]ulkhead-test-vm,' || true`]).toString().trim()).toBe('0');
  });
});
