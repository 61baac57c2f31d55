// A micro-VM pod seen from outside with the real tools, the "done when" list:
//   inside the pod `uname -r` is the guest kernel and neither /proc/cpuinfo nor `mount` show host paths;
//   from the host the pod IP answers on its port; crictl exec (plain, stdin, tty), logs, stats and
//   port-forward work; orphans in the pod are reaped (catatonit); after `crictl rmp` no QEMU,
//   virtiofsd, netns (with its tap), mount or per-pod file of the pod remains.
import { podVmDir as vmDirOfPod } from '../pkg/runtime/vm/vm-state.js';
import { execFile, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { release } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CRICTL, crictlEndpoints, mountsUnder, ownDaemon, type OwnDaemon } from './lib/own-daemon.js';
import { freeLocalPorts } from './lib/free-port.js';

const run = promisify(execFile);
const IMAGE = 'registry.k8s.io/e2e-test-images/busybox:1.29-2';
const GUEST_CACHE = process.env.BULKHEAD_VM_TEST_CACHE ?? '/var/cache/bulkhead-tools/guest';
const isRoot = process.getuid?.() === 0;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function httpGet(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: 10_000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve(body));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
  });
}

/** pids of processes whose command line mentions s (QEMU and virtiofsd name their pod/VM dirs). */
function processesMentioning(s: string, names: RegExp): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmd.includes(s) && names.test(cmd.split(' ')[0] ?? '')) out.push(Number(p));
    } catch {
      /* exited */
    }
  }
  return out;
}

describe.skipIf(!isRoot || !existsSync('/usr/bin/qemu-system-x86_64'))('micro-VM pod through crictl ("done when")', () => {
  let d: OwnDaemon;
  let podId: string;
  let webId: string;
  let podIp: string;
  let podVmDir: string;
  let guestKernel: string;
  const timings: Record<string, number> = {};

  beforeAll(async () => {
    d = ownDaemon('vmcrictl', {
      extraToml: `[runtime_handlers.runc]\nkind = "oci"\n[runtime_handlers.microvm]\nkind = "vm"\nmemory_mib = 192\nguest_root = "${GUEST_CACHE}"\n`,
    });
    await d.start();
    await d.crictl('pull', IMAGE);
    // The guest image may still be building: the first runp waits for it.
    const pod = join(d.dir, 'pod.json');
    writeFileSync(pod, JSON.stringify({ metadata: { name: 'vmcrictl', namespace: 'e2e', uid: 'vmcrictl-uid', attempt: 0 }, hostname: 'vmcrictl', log_directory: d.logDir, linux: {} }));
    const t0 = performance.now();
    podId = (await d.crictl('runp', '--runtime', 'microvm', pod)).trim();
    timings.runPodSandboxMs = Math.round(performance.now() - t0);
    const web = join(d.dir, 'web.json');
    writeFileSync(
      web,
      JSON.stringify({
        metadata: { name: 'web' },
        image: { image: IMAGE },
        command: ['sh', '-c', 'mkdir -p /www && echo hello-from-vm > /www/index.html && echo web-started && exec httpd -f -p 8080 -h /www'],
        log_path: 'web.log',
        linux: {},
      }),
    );
    webId = (await d.crictl('create', podId, web, pod)).trim();
    await d.crictl('start', webId);
    timings.podToRunningMs = Math.round(performance.now() - t0);
    const inspect = JSON.parse(await d.crictl('inspectp', podId)) as { status: { network: { ip: string } } };
    podIp = inspect.status.network.ip;
    podVmDir = join(d.state, 'pods', podId);
    type VmInfo = { vmHandlers?: Record<string, { guestStamp: string }> };
    const info = JSON.parse(await d.crictl('info')) as VmInfo & { info?: VmInfo };
    const stamp = (info.vmHandlers ?? info.info?.vmHandlers)?.microvm?.guestStamp ?? '';
    expect(stamp).toMatch(/^[0-9a-f]{16}$/);
    guestKernel = (JSON.parse(readFileSync(join(GUEST_CACHE, 'guest', stamp, 'manifest.json'), 'utf8')) as { kernel_release: string }).kernel_release;
    console.log(`vm-crictl timings: ${JSON.stringify(timings)}`);
  });

  afterAll(async () => {
    await d?.cleanup();
  });

  it('uname -r is the guest kernel', async () => {
    const r = (await d.crictl('exec', webId, 'uname', '-r')).trim();
    expect(r).toBe(guestKernel);
    if (release() !== guestKernel) expect(r).not.toBe(release());
  });

  it('/proc/cpuinfo and mount show no host paths', async () => {
    const cpuinfo = await d.crictl('exec', webId, 'cat', '/proc/cpuinfo');
    const mounts = await d.crictl('exec', webId, 'mount');
    expect(cpuinfo).toMatch(/processor\s*:\s*0/);
    expect(mounts).toMatch(/ on \/ type /);
    for (const hostPath of [d.dir, d.root, d.state, '/var/lib/bulkhead', '/run/bulkhead-', '/tmp/bulkhead', podId]) {
      expect(cpuinfo).not.toContain(hostPath);
      expect(mounts).not.toContain(hostPath);
    }
  });

  it('the pod IP answers on its port from the host', async () => {
    expect(podIp).toMatch(new RegExp(`^${d.subnetPrefix.replace(/\./g, '\\.')}\\.`));
    let body = '';
    for (let i = 0; i < 50 && !body; i++) body = await httpGet(`http://${podIp}:8080/`).catch(() => sleep(200).then(() => ''));
    expect(body).toBe('hello-from-vm\n');
  });

  it('crictl exec: exit code, stdout/stderr apart, stdin, tty', async () => {
    const r = await run(CRICTL, [...crictlEndpoints(d.sock), 'exec', webId, 'sh', '-c', 'echo out; echo err >&2; exit 7']).catch((e: { stdout: string; stderr: string }) => e);
    expect(r.stdout).toBe('out\n');
    expect(r.stderr).toContain('err\n');
    expect(r.stderr).toContain('exit code 7');
    const echoed = await new Promise<string>((resolve, reject) => {
      const c = spawn(CRICTL, [...crictlEndpoints(d.sock), 'exec', '-i', webId, 'sh', '-c', 'tr a-z A-Z'], { stdio: ['pipe', 'pipe', 'ignore'] });
      let out = '';
      c.stdout.on('data', (b: Buffer) => (out += b.toString()));
      c.on('error', reject);
      c.on('close', () => resolve(out));
      c.stdin.end('through stdin\n');
    });
    expect(echoed).toBe('THROUGH STDIN\n');
    // A tty exec inside `script` (crictl wants a terminal for -it): the process sees a pty.
    const { stdout } = await run('script', ['-q', '-e', '-c', `${CRICTL} ${crictlEndpoints(d.sock).join(' ')} exec -it ${webId} sh -c 'tty; echo tty-ok'`, '/dev/null'], { timeout: 60_000 }).catch((e: { stdout: string; stderr: string; message: string }) => {
      throw new Error(`tty exec failed: ${e.message}\nstdout: ${e.stdout}\nstderr: ${e.stderr}`);
    });
    expect(stdout).toMatch(/\/dev\/pts\/\d+\r?\n/);
    expect(stdout).toContain('tty-ok');
  });

  it('crictl info announces recursive read-only mounts for the micro-VM handler (kubelet checks it)', async () => {
    // crictl prints the CRI list with Go json field names (snake case, false omitted).
    const info = JSON.parse(await d.crictl('info', '-o', 'json')) as { runtimeHandlers?: { name: string; features?: { recursive_read_only_mounts?: boolean } }[] };
    const byName = new Map((info.runtimeHandlers ?? []).map((h) => [h.name, h.features?.recursive_read_only_mounts ?? false]));
    expect(byName.get('microvm')).toBe(true);
    expect(byName.get('runc')).toBe(true);
  });

  it('crictl logs shows the container output', async () => {
    expect(await d.crictl('logs', webId)).toContain('web-started');
  });

  it('crictl stats reports the container', async () => {
    const s = JSON.parse(await d.crictl('stats', '-o', 'json', '--id', webId)) as { stats: { attributes: { id: string }; cpu: { usageCoreNanoSeconds?: { value: string } }; memory: { workingSetBytes?: { value: string } } }[] };
    expect(s.stats).toHaveLength(1);
    expect(s.stats[0]!.attributes.id).toBe(webId);
    expect(Number(s.stats[0]!.memory.workingSetBytes?.value ?? 0)).toBeGreaterThan(0);
    expect(Number(s.stats[0]!.cpu.usageCoreNanoSeconds?.value ?? 0)).toBeGreaterThan(0);
  });

  it('crictl port-forward reaches the port inside the VM', async () => {
    const local = await freeLocalPorts(1);
    const pf = spawn(CRICTL, [...crictlEndpoints(d.sock), 'port-forward', podId, `${local}:8080`], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('port-forward did not start')), 30_000);
        pf.stdout.on('data', (b: Buffer) => b.toString().includes('Forwarding from') && (clearTimeout(t), resolve()));
        pf.on('exit', (c) => reject(new Error(`port-forward exited ${c}`)));
      });
      expect(await httpGet(`http://127.0.0.1:${local}/`)).toBe('hello-from-vm\n');
    } finally {
      pf.kill('SIGKILL');
    }
  });

  it('orphans in the pod are reaped (no zombies)', async () => {
    await d.crictl('exec', webId, 'sh', '-c', '(sleep 1 &) ; true');
    // Under TCG on a loaded host `sleep 1` may still run (or have just exited) when we look: poll.
    let zombies: string[] = [];
    let ps = '';
    for (let i = 0; i < 10; i++) {
      await sleep(1500);
      ps = await d.crictl('exec', webId, 'ps', '-o', 'pid,ppid,stat,comm');
      zombies = ps.split('\n').filter((l) => /^\s*\d+\s+\d+\s+Z/.test(l));
      if (zombies.length === 0 && !/\ssleep$/m.test(ps)) break;
    }
    expect(zombies, ps).toEqual([]);
  });

  it('after rmp nothing of the pod remains: QEMU, virtiofsd, netns/tap, mounts, files', async () => {
    const vmDir = vmDirOfPod(podVmDir);
    expect(processesMentioning(vmDir, /qemu-system/).length).toBe(1);
    // virtiofsd runs sandbox=namespace: the process we start plus its worker in the new pid namespace.
    expect(processesMentioning(vmDir, /virtiofsd/).length).toBe(2);
    const netns = join(podVmDir, 'ns', 'net');
    const { stdout: links } = await run('nsenter', [`--net=${existsSync(netns) ? netns : '/proc/self/ns/net'}`, 'ip', '-o', 'link']);
    if (existsSync(netns)) expect(links).toContain('tap0_vm');
    await d.crictl('rmp', '-f', podId);
    expect(processesMentioning(vmDir, /qemu-system/)).toEqual([]);
    expect(processesMentioning(vmDir, /virtiofsd/)).toEqual([]);
    expect(mountsUnder(d.state, d.root).filter((l) => l.includes(podId) || l.includes(vmDir))).toEqual([]);
    expect(existsSync(podVmDir)).toBe(false);
    expect(existsSync(vmDir)).toBe(false);
    expect(existsSync(netns)).toBe(false);
    // No file named after the pod anywhere under the daemon's dirs (VM dir, share, console log, sockets).
    const { stdout: left } = await run('find', [d.state, d.root, '-name', `*${podId.slice(0, 12)}*`]);
    expect(left.trim()).toBe('');
  });
});
