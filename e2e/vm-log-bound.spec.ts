// A VM container's log: the guest's copy (on guest tmpfs, i.e. guest RAM) stays bounded while the
// host's copy gets every line (the container waits when the host lags, pkg/agent/cri-log.ts), and
// ReopenContainerLog after a kubelet-style rotation sends the next lines to the new file.
import { existsSync, readFileSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownDaemon, VM_HANDLERS_TOML, teardownPodDaemon, type OwnDaemon } from './lib/own-daemon.js';
import { criClient, type CriClient } from './lib/cri-grpc.js';

const IMAGE = 'docker.io/library/busybox:latest';
const isRoot = process.getuid?.() === 0;
const vmEnabled = process.env.BULKHEAD_RELIABILITY_VM !== '0';
const MiB = 1 << 20;
/** 10 MB of 71-byte lines: ~15 MiB in CRI format, past the guest's 8 MiB cap (TCG ships ~0.2-1 MB/s: kept small). */
const BYTES = 10_000_000;
const LINE = '0123456789'.repeat(7);

describe.skipIf(!isRoot || !vmEnabled)('micro-VM container log: bounded in the guest, complete on the host', () => {
  let d: OwnDaemon;
  let cri: CriClient;
  let pod = '';
  let ticker = '';
  let logDir = '';
  let cfg: Record<string, unknown> = {};

  const create = async (name: string, command: string[]): Promise<string> => {
    const { container_id } = await cri.call<{ container_id: string }>('CreateContainer', {
      pod_sandbox_id: pod,
      config: { metadata: { name, attempt: 0 }, image: { image: IMAGE }, command, log_path: `${name}.log` },
      sandbox_config: cfg,
    }, 180_000);
    await cri.call('StartContainer', { container_id }, 180_000);
    return container_id;
  };
  const shmemKib = async (): Promise<number> => {
    const out = (await cri.call<{ stdout: Buffer }>('ExecSync', { container_id: ticker, cmd: ['cat', '/proc/meminfo'], timeout: 60 }, 75_000)).stdout.toString();
    return Number(/Shmem:\s+(\d+) kB/.exec(out)![1]);
  };
  const waitFor = async (what: string, ok: () => boolean, ms: number): Promise<void> => {
    for (const end = Date.now() + ms; Date.now() < end; ) {
      if (ok()) return;
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error(`timed out waiting for ${what}`);
  };

  beforeAll(async () => {
    d = ownDaemon('vm-logbound', { extraToml: VM_HANDLERS_TOML });
    await d.start();
    await d.crictl('pull', IMAGE);
    cri = criClient(d.sock);
    logDir = join(d.logDir, 'logbound');
    cfg = { metadata: { name: 'logbound', namespace: 'logbound', uid: 'logbound-uid', attempt: 0 }, log_directory: logDir, linux: {} };
    ({ pod_sandbox_id: pod } = await cri.call<{ pod_sandbox_id: string }>('RunPodSandbox', { config: cfg, runtime_handler: 'microvm' }, 180_000));
    ticker = await create('ticker', ['sh', '-c', 'i=0; while :; do echo tick $i; i=$((i+1)); sleep 0.5; done']);
  });
  afterAll(async () => {
    await teardownPodDaemon(cri, pod, d);
  });

  it('keeps the guest copy under its cap while the host gets every line', async () => {
    const before = await shmemKib();
    const t0 = performance.now();
    await create('flood', ['sh', '-c', `yes ${LINE} | head -c ${BYTES}; echo; echo flood-done; sleep 3600`]);
    const hostLog = join(logDir, 'flood.log');
    await waitFor('the last line on the host', () => existsSync(hostLog) && readFileSync(hostLog, 'utf8').includes('flood-done'), 240_000);
    const shipMs = performance.now() - t0;
    const after = await shmemKib();
    const lines = readFileSync(hostLog, 'utf8').split('\n').filter((l) => l.endsWith(` ${LINE}`));
    const full = Math.floor(BYTES / (LINE.length + 1));
    console.log(`flood: ${(statSync(hostLog).size / MiB).toFixed(1)} MiB on the host in ${Math.round(shipMs)} ms, ${lines.length}/${full} full lines; guest Shmem ${before} → ${after} kB`);
    // every full line reached the host: the container waited instead of the guest dropping lines
    expect(lines.length).toBe(full);
    // guest tmpfs grew by at most the 8 MiB cap (+ slack for the agent's own files), not by the ~15 MiB written
    expect(after - before).toBeLessThan(12 * 1024);
  });

  it('ReopenContainerLog after a rotation: the next lines go to the new file', async () => {
    const path = join(logDir, 'ticker.log');
    await waitFor('ticks', () => existsSync(path) && readFileSync(path, 'utf8').includes('tick 2'), 60_000);
    renameSync(path, `${path}.1`);
    await cri.call('ReopenContainerLog', { container_id: ticker });
    expect(existsSync(path)).toBe(true);
    const rotatedSize = statSync(`${path}.1`).size;
    await waitFor('ticks in the new file', () => /stdout F tick \d+/.test(readFileSync(path, 'utf8')), 60_000);
    // the rotated file is left alone (at most a chunk already in flight landed there)
    await new Promise((r) => setTimeout(r, 2000));
    expect(statSync(`${path}.1`).size - rotatedSize).toBeLessThan(256);
    const first = Number(/tick (\d+)/.exec(readFileSync(path, 'utf8'))![1]);
    const lastOld = Number([...readFileSync(`${path}.1`, 'utf8').matchAll(/tick (\d+)/g)].pop()![1]);
    // no line twice, none lost across the rotation
    expect(first).toBe(lastOld + 1);
  });
});
