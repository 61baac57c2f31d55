// One runtime conformance suite, run against both pod kinds behind the same CRI calls (issue #12):
// namespace containers (runc under conmon) and micro-VM pods (crun in the guest). What a kubelet
// sees must not depend on the kind, so every case runs, unchanged, on both handlers; a difference
// between kinds is a red test here. Covered: stop by signal name (the first signal reaches the
// process, the exit code is its own), stop of an exited container, exit reasons, ExecSync's
// deadline (DEADLINE_EXCEEDED) and output cap, resource updates seen in the container's cgroup and
// in ContainerStatus, and a daemon restart (containers keep running, exec works, exits noticed).
// The micro-VM half is skipped with BULKHEAD_RELIABILITY_VM=0 (TCG: each VM pod takes 10–40 s).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownDaemon, VM_HANDLERS_TOML, type OwnDaemon } from './lib/own-daemon.js';
import { criClient, grpcCode, runTestPod, type CriClient, type TestPod } from './lib/cri-grpc.js';

const IMAGE = 'docker.io/library/busybox:latest';
const isRoot = process.getuid?.() === 0;
const vmEnabled = process.env.BULKHEAD_RELIABILITY_VM !== '0';
const DEADLINE_EXCEEDED = 4;
/** pkg/container/exec-sync.ts EXEC_SYNC_OUTPUT_CAP: 8 MiB less 4 KiB per stream. */
const EXEC_SYNC_OUTPUT_CAP = 8 * 1024 * 1024 - 4096;
const MiB = 1 << 20;
/** VM pods under TCG want minutes per call; runc pods take seconds. */
const T = 240_000;

interface Status {
  state: string;
  exit_code: number;
  reason: string;
  resources?: { linux?: { memory_limit_in_bytes?: string | number } };
}

const kinds: string[] = vmEnabled ? ['runc', 'microvm'] : ['runc'];

describe.skipIf(!isRoot)('runtime conformance: the same CRI behaviour on every pod kind', () => {
  let d: OwnDaemon;
  let cri: CriClient;

  beforeAll(async () => {
    d = ownDaemon('rt-conf', { extraToml: VM_HANDLERS_TOML });
    await d.start();
    await d.crictl('pull', IMAGE);
    cri = criClient(d.sock);
  }, T);
  afterAll(async () => {
    cri?.close();
    await d?.cleanup();
  }, T);

  describe.each(kinds)('handler %s', (handler) => {
    let pod: TestPod;
    const status = async (id: string): Promise<Status> => (await cri.call<{ status: Status }>('ContainerStatus', { container_id: id }, T)).status;
    /** A started container running `sh -c script`. */
    const started = async (name: string, script: string, extra: Record<string, unknown> = {}): Promise<string> => {
      const id = await pod.create(name, IMAGE, { command: ['sh', '-c', script], ...extra });
      await cri.call('StartContainer', { container_id: id }, T);
      return id;
    };
    const waitExited = async (id: string): Promise<Status> => {
      for (let i = 0; i < 600; i++) {
        const st = await status(id);
        if (st.state === 'CONTAINER_EXITED') return st;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`container ${id} did not exit`);
    };

    beforeAll(async () => {
      pod = await runTestPod(cri, `conf-${handler}`, d.logDir, { handler, timeoutMs: T });
    }, T);
    afterAll(async () => {
      await pod?.remove();
    }, T);

    it('stops with the configured signal: the process handles it and its exit code is reported', async () => {
      // The trap is armed before the sleep; `wait` returns at once when the signal arrives.
      const id = await started('stop-usr1', 'trap "echo got-usr1; exit 42" USR1; echo armed; sleep 3600 & wait', { stop_signal: 'SIGUSR1' });
      await waitForLog(pod, 'stop-usr1', 'armed');
      await cri.call('StopContainer', { container_id: id, timeout: 30 }, T);
      const st = await status(id);
      expect(st.state).toBe('CONTAINER_EXITED');
      expect(st.exit_code).toBe(42);
      expect(st.reason).toBe('Error');
    }, T);

    it('stops a container that ignores its signal with SIGKILL after the grace period (137)', async () => {
      const id = await started('stop-ignore', 'trap "" TERM; echo armed; while true; do sleep 0.2; done');
      await waitForLog(pod, 'stop-ignore', 'armed');
      const t0 = Date.now();
      await cri.call('StopContainer', { container_id: id, timeout: 2 }, T);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(1900);
      const st = await status(id);
      expect(st.exit_code).toBe(137);
      // Stopping an exited container again is success, not an error.
      await cri.call('StopContainer', { container_id: id, timeout: 0 }, T);
    }, T);

    it('reports Completed for exit 0 and Error with the code otherwise', async () => {
      const ok = await started('exit-0', 'exit 0');
      const bad = await started('exit-3', 'exit 3');
      expect(await waitExited(ok)).toMatchObject({ exit_code: 0, reason: 'Completed' });
      expect(await waitExited(bad)).toMatchObject({ exit_code: 3, reason: 'Error' });
    }, T);

    it('ExecSync past its timeout fails with DEADLINE_EXCEEDED', async () => {
      const id = await started('exec-timeout', 'sleep 3600');
      const e = await cri.call('ExecSync', { container_id: id, cmd: ['sleep', '60'], timeout: 2 }, T).then(() => undefined, (x: unknown) => x);
      expect(grpcCode(e)).toBe(DEADLINE_EXCEEDED);
      // The container is unaffected.
      const r = await cri.call<{ stdout: Buffer; exit_code: number }>('ExecSync', { container_id: id, cmd: ['echo', 'alive'], timeout: 60 }, T);
      expect(r.stdout.toString()).toBe('alive\n');
    }, T);

    it('ExecSync output is capped at the same size and the exit code still arrives', async () => {
      const id = await started('exec-cap', 'sleep 3600');
      const r = await cri.call<{ stdout: Buffer; stderr: Buffer; exit_code: number }>(
        'ExecSync',
        { container_id: id, cmd: ['sh', '-c', 'head -c 12582912 /dev/zero; echo err >&2; exit 5'], timeout: 120 },
        T,
      );
      expect(r.stdout.length).toBe(EXEC_SYNC_OUTPUT_CAP);
      expect(r.stderr.toString()).toBe('err\n');
      expect(r.exit_code).toBe(5);
    }, T);

    it('UpdateContainerResources reaches the container cgroup and ContainerStatus', async () => {
      const id = await started('update', 'sleep 3600', { linux: { resources: { memory_limit_in_bytes: 128 * MiB } } });
      await cri.call('UpdateContainerResources', { container_id: id, linux: { memory_limit_in_bytes: 96 * MiB } }, T);
      // cgroup v2 (guest, v2 hosts: without a cgroup namespace the container's own dir) or v1 (runc on this hybrid host).
      const limit = await pod.sh(
        id,
        'p=$(grep -E "^0::" /proc/self/cgroup | cut -d: -f3); for f in /sys/fs/cgroup/memory.max /sys/fs/cgroup$p/memory.max /sys/fs/cgroup/memory/memory.limit_in_bytes; do [ -r $f ] && { cat $f; break; }; done',
      );
      expect(limit.trim()).toBe(String(96 * MiB));
      expect(Number((await status(id)).resources?.linux?.memory_limit_in_bytes)).toBe(96 * MiB);
    }, T);

    it('survives a daemon restart: running containers keep running, exec works, a later exit is seen', async () => {
      const id = await started('restart', 'while [ ! -e /tmp/go ]; do sleep 0.2; done; exit 9');
      await d.kill('SIGKILL');
      await d.start();
      expect((await status(id)).state).toBe('CONTAINER_RUNNING');
      expect(await pod.sh(id, 'echo reattached')).toBe('reattached\n');
      await pod.sh(id, 'touch /tmp/go');
      expect(await waitExited(id)).toMatchObject({ exit_code: 9, reason: 'Error' });
    }, T);
  });
});

/** Waits until the container's CRI log has a line containing `text` (its trap is armed then). */
async function waitForLog(pod: TestPod, name: string, text: string): Promise<void> {
  const file = join(pod.config.log_directory, `${name}.log`);
  for (let i = 0; i < 600; i++) {
    let log = '';
    try {
      log = readFileSync(file, 'utf8');
    } catch {
      /* not yet created */
    }
    if (log.includes(text)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${file} never showed "${text}"`);
}
