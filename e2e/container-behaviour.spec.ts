// Container behaviours through crictl against a private daemon: ExecSync (exit code, separate
// stderr, timeout, output cap), UpdateContainerResources, ReopenContainerLog, OOMKilled,
// GetContainerEvents, and metrics.
import { spawn } from 'node:child_process';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CRICTL, crictlEndpoints, ownDaemon, type OwnDaemon } from './lib/own-daemon.js';

const IMAGE = 'docker.io/library/busybox:latest';
const isRoot = process.getuid?.() === 0;

describe.skipIf(!isRoot)('container behaviours', () => {
  let d: OwnDaemon;
  let pod: string;
  let podId: string;
  let n = 0;
  const newContainer = async (command: string[], extra: Record<string, unknown> = {}) => {
    const f = join(d.dir, `c${++n}.json`);
    writeFileSync(f, JSON.stringify({ metadata: { name: `c${n}` }, image: { image: IMAGE }, command, log_path: `c${n}.log`, linux: { security_context: { namespace_options: { pid: 1 } } }, ...extra }));
    const id = (await d.crictl('create', podId, f, pod)).trim();
    await d.crictl('start', id);
    return id;
  };

  beforeAll(async () => {
    d = ownDaemon('behave');
    await d.start();
    await d.crictl('pull', IMAGE);
    pod = join(d.dir, 'pod.json');
    writeFileSync(pod, JSON.stringify({ metadata: { name: 'behave', namespace: 'e2e', uid: 'behave-uid', attempt: 0 }, log_directory: d.logDir, linux: { security_context: { namespace_options: { pid: 1 } } } }));
    podId = (await d.crictl('runp', pod)).trim();
  });
  afterAll(async () => {
    await d?.cleanup();
  });

  it('ExecSync: exit code, stderr apart from stdout, timeout, capped output', async () => {
    const id = await newContainer(['sleep', '1000']);
    await expect(d.crictl('exec', '-s', id, 'sh', '-c', 'echo out; echo err >&2; exit 3')).rejects.toThrow(/exited with 3: err/);
    expect((await d.crictl('exec', '-s', id, 'sh', '-c', 'echo out; echo err >&2')).split('\n').filter(Boolean)).toEqual(['out', 'err']);
    const t0 = Date.now();
    await expect(d.crictl('exec', '-s', '--timeout', '1', id, 'sleep', '30')).rejects.toThrow(/timed out/);
    expect(Date.now() - t0).toBeLessThan(10_000);
    const big = await d.crictl('exec', '-s', id, 'sh', '-c', 'head -c 20000000 /dev/zero');
    expect(big.length).toBeGreaterThan(8_000_000);
    expect(big.length).toBeLessThan(8_400_000);
  });

  it('UpdateContainerResources reaches the cgroup and the status', async () => {
    const id = await newContainer(['sleep', '1000']);
    await d.crictl('update', '--memory', '67108864', id);
    const st = JSON.parse(await d.crictl('inspect', '-o', 'json', id)) as { status: { resources: { linux: { memoryLimitInBytes: string } } } };
    expect(st.status.resources.linux.memoryLimitInBytes).toBe('67108864');
    expect((await d.crictl('exec', '-s', id, 'cat', '/sys/fs/cgroup/memory/memory.limit_in_bytes')).trim()).toBe('67108864');
  });

  it('ReopenContainerLog starts a new file after the old one was rotated away', async () => {
    const id = await newContainer(['sh', '-c', 'while true; do echo line; sleep 0.2; done']);
    const log = join(d.logDir, `c${n}.log`);
    await new Promise((r) => setTimeout(r, 500));
    renameSync(log, `${log}.1`);
    await d.crictl('logs', '--reopen', id);
    await new Promise((r) => setTimeout(r, 600));
    expect(readFileSync(log, 'utf8')).toMatch(/stdout F line/);
  });

  it('reports OOMKilled with exit code 137', async () => {
    const id = await newContainer(['sh', '-c', 'x=a; while true; do x=$x$x$x$x; done'], {
      linux: { resources: { memory_limit_in_bytes: 16 * 1024 * 1024 }, security_context: { namespace_options: { pid: 1 } } },
    });
    let st = { status: { state: '', exitCode: 0, reason: '' } };
    for (let i = 0; i < 100 && st.status.state !== 'CONTAINER_EXITED'; i++) {
      await new Promise((r) => setTimeout(r, 200));
      st = JSON.parse(await d.crictl('inspect', '-o', 'json', id)) as typeof st;
    }
    expect(st.status).toMatchObject({ state: 'CONTAINER_EXITED', exitCode: 137, reason: 'OOMKilled' });
  });

  it('GetContainerEvents streams created, started, stopped and deleted', async () => {
    const ev = spawn(CRICTL, [...crictlEndpoints(d.sock), 'events', '-o', 'json']);
    let out = '';
    ev.stdout.on('data', (b: Buffer) => (out += b.toString()));
    await new Promise((r) => setTimeout(r, 500));
    const id = await newContainer(['sleep', '1000']);
    await d.crictl('stop', id);
    await d.crictl('rm', id);
    await new Promise((r) => setTimeout(r, 500));
    ev.kill();
    const types = [...out.matchAll(/"containerId":\s*"([0-9a-f]+)",\s*"containerEventType":\s*"([A-Z_]+)"/g)].filter((m) => m[1] === id).map((m) => m[2]);
    expect(types).toEqual(['CONTAINER_CREATED_EVENT', 'CONTAINER_STARTED_EVENT', 'CONTAINER_STOPPED_EVENT', 'CONTAINER_DELETED_EVENT']);
  });

  it('GetContainerEvents also carries the sandbox lifecycle (container_id = pod id)', async () => {
    const ev = spawn(CRICTL, [...crictlEndpoints(d.sock), 'events', '-o', 'json']);
    let out = '';
    ev.stdout.on('data', (b: Buffer) => (out += b.toString()));
    await new Promise((r) => setTimeout(r, 500));
    const f = join(d.dir, 'evpod.json');
    writeFileSync(f, JSON.stringify({ metadata: { name: 'evpod', namespace: 'e2e', uid: 'evpod-uid', attempt: 0 }, linux: { security_context: { namespace_options: { pid: 1 } } } }));
    const id = (await d.crictl('runp', f)).trim();
    await d.crictl('stopp', id);
    await d.crictl('rmp', id);
    await new Promise((r) => setTimeout(r, 500));
    ev.kill();
    const types = [...out.matchAll(/"containerId":\s*"([0-9a-f]+)",\s*"containerEventType":\s*"([A-Z_]+)"/g)].filter((m) => m[1] === id).map((m) => m[2]);
    expect(types).toEqual(['CONTAINER_CREATED_EVENT', 'CONTAINER_STARTED_EVENT', 'CONTAINER_STOPPED_EVENT', 'CONTAINER_DELETED_EVENT']);
  });

  it('pod metrics carry real values', async () => {
    const out = JSON.parse(await d.crictl('metricsp', '-o', 'json')) as { podMetrics: { podSandboxId: string; containerMetrics: { metrics: { name: string; value: { value: string } }[] }[] }[] };
    const pm = out.podMetrics.find((p) => p.podSandboxId === podId)!;
    const ws = pm.containerMetrics.flatMap((c) => c.metrics).filter((m) => m.name === 'container_memory_working_set_bytes');
    expect(ws.length).toBeGreaterThan(0);
    expect(ws.some((m) => Number(m.value.value) > 0)).toBe(true);
  });
});
