// Injected faults, each ending with the host census equal to the baseline:
// - a CNI plugin fails ADD (RunPodSandbox fails, nothing left) and DEL (StopPodSandbox completes,
//   the teardown is retried in the background until the plugin works again);
// - conmon is SIGKILLed under a running container (status follows the process: exited when it dies,
//   stop/remove still work); runc exec is SIGKILLed under ExecSync (a status comes back, the
//   container keeps running);
// - the registry dies in the middle of a layer download (the pull fails cleanly, a retry completes).
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ownDaemon, VM_HANDLERS_TOML, type OwnDaemon } from '../lib/own-daemon.js';
import { criClient, grpcCode, type CriClient } from '../lib/cri-grpc.js';
import { targetOf } from '../lib/census-target.js';
import { censusLeaks, censusTable, takeCensus, type Census } from '../lib/host-census.js';
import { startRegistry, freePort, type TestRegistry } from '../lib/registry.js';
import { buildImage, pushImage } from '../lib/registry-push.js';

const IMAGE = 'docker.io/library/busybox:latest';
const isRoot = process.getuid?.() === 0;

/** A chained CNI plugin that passes the previous result through, or fails when a flag file exists. */
function writeFaultPlugin(binDir: string, flagDir: string): void {
  mkdirSync(binDir, { recursive: true });
  const src = `#!${process.execPath}
const fs = require('fs');
const cmd = process.env.CNI_COMMAND;
let input = '';
process.stdin.on('data', (d) => (input += d)).on('end', () => {
  const conf = input ? JSON.parse(input) : {};
  const out = (o) => { process.stdout.write(JSON.stringify(o)); process.exit(0); };
  const fail = (msg) => { process.stdout.write(JSON.stringify({ cniVersion: '1.0.0', code: 999, msg })); process.exit(1); };
  if (cmd === 'VERSION') return out({ cniVersion: '1.0.0', supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0'] });
  if (cmd === 'ADD' && fs.existsSync(${JSON.stringify(join(flagDir, 'fail-add'))})) return fail('injected ADD failure');
  if (cmd === 'DEL' && fs.existsSync(${JSON.stringify(join(flagDir, 'fail-del'))})) return fail('injected DEL failure');
  if (cmd === 'ADD') return out(conf.prevResult || { cniVersion: conf.cniVersion });
  process.exit(0);
});
`;
  writeFileSync(join(binDir, 'bhfault'), src);
  chmodSync(join(binDir, 'bhfault'), 0o755);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe.skipIf(!isRoot)('faults', () => {
  let d: OwnDaemon;
  let cri: CriClient;
  let flags: string;
  let baseline: Census;
  let n = 0;
  const census = () => takeCensus(targetOf(d));

  beforeAll(async () => {
    const tmp = join('/tmp', `bulkhead-faults-bin-${randomBytes(3).toString('hex')}`);
    flags = join(tmp, 'flags');
    mkdirSync(flags, { recursive: true });
    writeFaultPlugin(join(tmp, 'bin'), flags);
    d = ownDaemon('faults', { extraToml: VM_HANDLERS_TOML, cniPlugins: [{ type: 'bhfault' }], cniBinDirs: [join(tmp, 'bin')] });
    d.onCleanup = () => rmSync(tmp, { recursive: true, force: true });
    await d.start();
    await d.crictl('pull', IMAGE);
    cri = criClient(d.sock);
    baseline = census();
  });
  afterAll(async () => {
    cri?.close();
    await d?.cleanup();
  });

  const podCfg = () => {
    const name = `fault-${n++}`;
    return { metadata: { name, namespace: 'faults', uid: `${name}-uid`, attempt: 0 }, log_directory: join(d.logDir, name), linux: {} };
  };
  async function runPodWithContainer(cmd: string[]): Promise<{ pod: string; ctr: string }> {
    const cfg = podCfg();
    const { pod_sandbox_id: pod } = await cri.call<{ pod_sandbox_id: string }>('RunPodSandbox', { config: cfg });
    const { container_id: ctr } = await cri.call<{ container_id: string }>('CreateContainer', {
      pod_sandbox_id: pod,
      config: { metadata: { name: 'c', attempt: 0 }, image: { image: IMAGE }, command: cmd, log_path: 'c.log' },
      sandbox_config: cfg,
    });
    await cri.call('StartContainer', { container_id: ctr });
    return { pod, ctr };
  }
  async function removePod(pod: string): Promise<void> {
    await cri.call('StopPodSandbox', { pod_sandbox_id: pod });
    await cri.call('RemovePodSandbox', { pod_sandbox_id: pod });
  }
  function expectBaseline(title: string): void {
    const after = census();
    const leaks = censusLeaks(baseline, after);
    if (leaks.length) console.log(censusTable(title, baseline, after));
    expect(leaks, title).toEqual([]);
  }
  const pendingTeardown = async (pod: string) =>
    (JSON.parse((await cri.call<{ info: { info: string } }>('PodSandboxStatus', { pod_sandbox_id: pod, verbose: true })).info.info) as { networkPendingTeardown: boolean }).networkPendingTeardown;
  const ctrState = async (id: string) => (await cri.call<{ status: { state: string; exit_code: number } }>('ContainerStatus', { container_id: id })).status;
  const conmonPid = (ctr: string) => Number(readFileSync(join(d.root, 'containers', ctr, 'conmon.pid'), 'utf8').trim());
  const ctrPid = (ctr: string) => (JSON.parse(readFileSync(join(d.root, 'containers', ctr, 'container.json'), 'utf8')) as { pid: number }).pid;

  it('CNI ADD failure: RunPodSandbox fails and leaves nothing behind', async () => {
    writeFileSync(join(flags, 'fail-add'), '');
    try {
      const err = await cri.call('RunPodSandbox', { config: podCfg() }).catch((e: unknown) => e);
      expect(grpcCode(err)).toBeGreaterThan(0);
      expect(String((err as Error).message)).toContain('injected ADD failure');
    } finally {
      rmSync(join(flags, 'fail-add'));
    }
    expect((await cri.call<{ items: unknown[] }>('ListPodSandbox', {})).items).toEqual([]);
    expectBaseline('after a failed CNI ADD');
  });

  it('CNI DEL failure: StopPodSandbox completes, the teardown is retried until it works', async () => {
    const { pod } = await runPodWithContainer(['sleep', '3600']);
    expect(census()['ip allocations']).toBe(1);
    writeFileSync(join(flags, 'fail-del'), '');
    try {
      await cri.call('StopPodSandbox', { pod_sandbox_id: pod });
      const st = await cri.call<{ status: { state: string } }>('PodSandboxStatus', { pod_sandbox_id: pod });
      expect(st.status.state).toBe('SANDBOX_NOTREADY');
      expect(await pendingTeardown(pod)).toBe(true);
      const err = await cri.call('RemovePodSandbox', { pod_sandbox_id: pod }).catch((e: unknown) => e);
      expect(grpcCode(err), 'RemovePodSandbox must not succeed while the network is still set up').toBeGreaterThan(0);
    } finally {
      rmSync(join(flags, 'fail-del'));
    }
    // no CRI call needed: the background retry completes the teardown
    await until('deferred teardown', async () => !(await pendingTeardown(pod)), 40_000);
    expect(census()['ip allocations']).toBe(0);
    expect(census()['veth on bridge']).toBe(0);
    await cri.call('RemovePodSandbox', { pod_sandbox_id: pod });
    expectBaseline('after a failed then retried CNI DEL');
  });

  it('conmon SIGKILLed under a running container: status follows the process, stop/remove still work', async () => {
    const { pod, ctr } = await runPodWithContainer(['sleep', '3600']);
    process.kill(conmonPid(ctr), 'SIGKILL');
    await sleep(300);
    expect((await ctrState(ctr)).state).toBe('CONTAINER_RUNNING'); // the process itself lives on
    process.kill(ctrPid(ctr), 'SIGKILL');
    const st = await until('exited status', async () => {
      const s = await ctrState(ctr);
      return s.state === 'CONTAINER_EXITED' ? s : undefined;
    });
    expect(st.exit_code).not.toBe(0);
    await removePod(pod);

    // conmon killed, then StopContainer on the still-running process
    const b = await runPodWithContainer(['sleep', '3600']);
    process.kill(conmonPid(b.ctr), 'SIGKILL');
    const t0 = Date.now();
    await cri.call('StopContainer', { container_id: b.ctr, timeout: 2 });
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect((await ctrState(b.ctr)).state).toBe('CONTAINER_EXITED');
    await removePod(b.pod);
    expectBaseline('after conmon kills');
  });

  it('runc exec SIGKILLed under ExecSync: a status comes back, the container keeps running', async () => {
    const { pod, ctr } = await runPodWithContainer(['sleep', '3600']);
    const exec = cri.call('ExecSync', { container_id: ctr, cmd: ['sleep', '30'], timeout: 60 }).then(
      (r) => ({ ok: true as const, r }),
      (e: unknown) => ({ ok: false as const, code: grpcCode(e) }),
    );
    const runcPid = await until('runc exec process', () => {
      for (const p of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
        try {
          const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0');
          if ((cmd[0] ?? '').endsWith('runc') && cmd.includes('exec') && cmd.includes(ctr)) return Number(p);
        } catch {
          // gone
        }
      }
      return undefined;
    });
    const t0 = Date.now();
    process.kill(runcPid, 'SIGKILL');
    const res = await exec;
    expect(Date.now() - t0).toBeLessThan(10_000);
    if (res.ok) expect((res.r as { exit_code: number }).exit_code).not.toBe(0);
    else expect(res.code).toBeGreaterThan(0);
    expect((await ctrState(ctr)).state).toBe('CONTAINER_RUNNING');
    expect((await cri.call<{ stdout: Buffer }>('ExecSync', { container_id: ctr, cmd: ['echo', 'ok'], timeout: 10 })).stdout.toString()).toBe('ok\n');
    await removePod(pod);
    expectBaseline('after a killed runc exec');
  });

  // BULKHEAD_RELIABILITY_VM=0 skips the micro-VM parts (hosts without QEMU)
  it.skipIf(process.env.BULKHEAD_RELIABILITY_VM === '0')('QEMU SIGKILLed under a micro-VM pod: its containers report exited, cleanup completes', async () => {
    const cfg = podCfg();
    const { pod_sandbox_id: pod } = await cri.call<{ pod_sandbox_id: string }>('RunPodSandbox', { config: cfg, runtime_handler: 'microvm' }, 120_000);
    const { container_id: ctr } = await cri.call<{ container_id: string }>('CreateContainer', {
      pod_sandbox_id: pod,
      config: { metadata: { name: 'c', attempt: 0 }, image: { image: IMAGE }, command: ['sleep', '3600'], log_path: 'c.log' },
      sandbox_config: cfg,
    }, 120_000);
    await cri.call('StartContainer', { container_id: ctr }, 120_000);
    expect((await ctrState(ctr)).state).toBe('CONTAINER_RUNNING');
    const vmName = `bulkhead-${pod.slice(0, 12)}`;
    const qemu = readdirSync('/proc').filter((p) => /^\d+$/.test(p)).find((p) => {
      try {
        const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
        return (cmd.split('\0')[0]!.split('/').pop() ?? '').startsWith('qemu-system') && cmd.includes(vmName);
      } catch {
        return false;
      }
    });
    expect(qemu, 'the pod VM runs').toBeDefined();
    process.kill(Number(qemu), 'SIGKILL');
    const st = await until('exited status', async () => {
      const s = await ctrState(ctr);
      return s.state === 'CONTAINER_EXITED' ? s : undefined;
    }, 20_000);
    expect(st.exit_code).not.toBe(0);
    const ps = await cri.call<{ status: { state: string } }>('PodSandboxStatus', { pod_sandbox_id: pod });
    expect(ps.status.state).toBe('SANDBOX_NOTREADY');
    await cri.call('StopPodSandbox', { pod_sandbox_id: pod }, 60_000);
    await cri.call('RemovePodSandbox', { pod_sandbox_id: pod }, 60_000);
    expectBaseline('after QEMU was killed');
  });

  describe('registry dies mid-pull', () => {
    let reg: TestRegistry;
    let proxyPort: number;
    let proxy: Server | undefined;
    const sockets = new Set<Socket>();
    let bytes = 0;
    let dieAfter = Number.POSITIVE_INFINITY;

    /** The registry as the daemon sees it: a TCP front that can "die" (all connections reset, port closed). */
    const startProxy = (upstreamPort: number) =>
      new Promise<void>((resolve) => {
        proxy = createServer((c) => {
          const u = connect(upstreamPort, '127.0.0.1');
          sockets.add(c).add(u);
          c.on('error', () => undefined).on('close', () => sockets.delete(c));
          u.on('error', () => undefined).on('close', () => sockets.delete(u));
          c.pipe(u);
          u.on('data', (b: Buffer) => {
            bytes += b.length;
            if (bytes > dieAfter) die();
            else c.write(b);
          });
          u.on('end', () => c.end());
        });
        proxy.listen(proxyPort, '127.0.0.1', resolve);
      });
    function die(): void {
      dieAfter = Number.POSITIVE_INFINITY;
      proxy?.close();
      proxy = undefined;
      for (const s of sockets) s.destroy();
    }

    beforeAll(async () => {
      reg = await startRegistry();
      proxyPort = await freePort();
      const img = await buildImage({ layers: [{ entries: [{ name: 'small', body: 'x' }] }, { entries: [{ name: 'big.bin', body: randomBytes(24 << 20) }], compression: 'none' }] });
      await pushImage(reg.url, 'reliab/big', 'v1', img);
    });
    afterAll(async () => {
      die();
      await reg?.stop();
    });

    it('fails the pull cleanly, and a retry completes', async () => {
      const ref = `127.0.0.1:${proxyPort}/reliab/big:v1`;
      const snapsBefore = census()['snapshot dirs'];
      bytes = 0;
      dieAfter = 4 << 20; // somewhere inside the 24 MB layer
      await startProxy(Number(new URL(reg.url).port));
      const t0 = Date.now();
      const err = await cri.call('PullImage', { image: { image: ref } }, 120_000).catch((e: unknown) => e);
      const secs = (Date.now() - t0) / 1000;
      expect(grpcCode(err), `pull should fail (took ${secs}s)`).toBeGreaterThan(0);
      expect(secs).toBeLessThan(60);
      // nothing half-done: no image, no new snapshot, no ingest leftovers
      expect(census()['snapshot dirs']).toBe(snapsBefore);
      const st = await cri.call<{ image: unknown }>('ImageStatus', { image: { image: ref } });
      expect(st.image).toBeNull();
      const ingest = join(d.root, 'content', 'ingest');
      expect(existsSync(ingest) ? readdirSync(ingest) : []).toEqual([]);
      // the registry comes back: the retry completes
      await startProxy(Number(new URL(reg.url).port));
      const ok = await cri.call<{ image_ref: string }>('PullImage', { image: { image: ref } }, 120_000);
      expect(ok.image_ref).toMatch(/^sha256:/);
      expect(census()['snapshot dirs']).toBe(snapsBefore + 2);
      await cri.call('RemoveImage', { image: { image: ref } });
      expect(census()['snapshot dirs']).toBe(snapsBefore);
      die();
    });
  });
});
