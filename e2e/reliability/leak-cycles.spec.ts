// Leak audit: BULKHEAD_LEAK_CYCLES pod create/remove cycles (CI default 100; the full
// audit is 1000: BULKHEAD_LEAK_CYCLES=1000). Each cycle runs a pod (alternating a pod PID
// namespace with catatonit and none, every third with a port mapping), a container that writes a
// log line, ExecSync, then stops and removes it. The host census before and after must match:
// mounts, netns, cgroups, veths, NAT rules, IP allocations, daemon fds, processes, dirs, disk.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownDaemon, VM_HANDLERS_TOML, type OwnDaemon } from '../lib/own-daemon.js';
import { criClient, type CriClient } from '../lib/cri-grpc.js';
import { targetOf } from '../lib/census-target.js';
import { censusLeaks, censusTable, diskBreakdown, takeCensus } from '../lib/host-census.js';

const CYCLES = Number(process.env.BULKHEAD_LEAK_CYCLES ?? 100);
const IMAGE = 'docker.io/library/busybox:latest';
const isRoot = process.getuid?.() === 0;

describe.skipIf(!isRoot)('leak audit', () => {
  let d: OwnDaemon;
  let cri: CriClient;
  beforeAll(async () => {
    d = ownDaemon('leak', { extraToml: VM_HANDLERS_TOML });
    await d.start();
    await d.crictl('pull', IMAGE);
    cri = criClient(d.sock);
  });
  afterAll(async () => {
    cri?.close();
    await d?.cleanup();
  });

  async function cycle(i: number): Promise<void> {
    const ns = { namespace_options: { pid: i % 2 === 0 ? 'POD' : 'CONTAINER' } };
    const cfg = {
      metadata: { name: `leak-${i}`, namespace: 'leak', uid: `leak-${i}-uid`, attempt: 0 },
      log_directory: join(d.logDir, `leak-${i}`),
      port_mappings: i % 3 === 0 ? [{ protocol: 'TCP', container_port: 80, host_port: 0 }, { protocol: 'TCP', container_port: 8080, host_port: 30000 + (i % 1000) }] : [],
      linux: { security_context: ns },
    };
    const { pod_sandbox_id: id } = await cri.call<{ pod_sandbox_id: string }>('RunPodSandbox', { config: cfg });
    const { container_id: cid } = await cri.call<{ container_id: string }>('CreateContainer', {
      pod_sandbox_id: id,
      config: { metadata: { name: 'c', attempt: 0 }, image: { image: IMAGE }, command: ['sh', '-c', 'echo hello; trap "exit 0" TERM; while true; do sleep 1; done'], log_path: 'c.log', linux: { security_context: ns } },
      sandbox_config: cfg,
    });
    await cri.call('StartContainer', { container_id: cid });
    const r = await cri.call<{ stdout: Buffer; exit_code: number }>('ExecSync', { container_id: cid, cmd: ['echo', 'x'], timeout: 10 });
    expect(r.exit_code).toBe(0);
    await cri.call('StopPodSandbox', { pod_sandbox_id: id });
    await cri.call('RemovePodSandbox', { pod_sandbox_id: id });
  }

  it(`${CYCLES} pod create/remove cycles leave the host as they found it`, async () => {
    // one warm-up cycle: lazily created dirs (runtimes/, exits/, cni-cache) are not leaks
    await cycle(-1);
    const before = takeCensus(targetOf(d));
    const t0 = Date.now();
    for (let i = 0; i < CYCLES; i++) await cycle(i);
    const secs = (Date.now() - t0) / 1000;
    const after = takeCensus(targetOf(d));
    const table = censusTable(`leak audit: ${CYCLES} cycles in ${secs.toFixed(0)}s (${((secs * 1000) / CYCLES).toFixed(0)} ms/cycle)`, before, after);
    console.log(table);
    writeFileSync(join(d.dir, 'census.txt'), table);
    if (process.env.BULKHEAD_CENSUS_DEBUG) console.log(execFileSync('du', ['-ak', d.state, join(d.root, 'containers'), join(d.root, 'pods')], { encoding: 'utf8' }));
    const leaks = censusLeaks(before, after);
    if (leaks.length) console.log(diskBreakdown(targetOf(d)));
    expect(leaks).toEqual([]);
  }, 120_000 + CYCLES * 3_000);
});
