// Starts a private bulkheadd for one spec file: temp root/state/socket, its own CNI bridge and
// subnet, the registry mirrors of e2e/certs.d. Specs using it can run next to other helpers'.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { CriClient } from './cri-grpc.js';

const run = promisify(execFile);
export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
// Defaults = e2e/lib/common.sh's (cri-tools cached per version); run-all.sh passes CRICTL.
export const CRICTL = process.env.CRICTL ?? '/var/cache/bulkhead-tools/v1.36.0/crictl';
/**
 * Both endpoints, always: crictl takes the one left out from /etc/crictl.yaml (deploy/install.sh
 * writes one for the node's daemon), and `exec` checks the image endpoint too, so a missing flag
 * talks to whatever daemon that file names (stop 19's CI: crictl exec printed nothing).
 */
export function crictlEndpoints(sock: string): string[] {
  return ['--runtime-endpoint', `unix://${sock}`, '--image-endpoint', `unix://${sock}`];
}
/**
 * The runc every test daemon's runc handler runs, as the CI daemon's (e2e/bulkhead-e2e.toml):
 * >= 1.2, built by e2e/setup.sh (deploy/lib/runc.sh); e2e/lib/common.sh exports the path.
 */
export const RUNC = process.env.BULKHEAD_RUNC ?? '/var/cache/bulkhead-tools/runc-v1.5.3/runc';
/** One guest-image cache for every test daemon: a build per temp root would cost minutes each. */
export const GUEST_CACHE = process.env.BULKHEAD_VM_TEST_CACHE ?? '/var/cache/bulkhead-tools/guest';

export interface OwnDaemon {
  dir: string;
  root: string;
  state: string;
  sock: string;
  bridge: string;
  subnetPrefix: string;
  logDir: string;
  proc?: ChildProcess;
  start(): Promise<void>;
  kill(signal: NodeJS.Signals): Promise<void>;
  crictl(...args: string[]): Promise<string>;
  cleanup(): Promise<void>;
  /** Called at the end of cleanup() (remove what the spec created next to the daemon). */
  onCleanup?: () => void;
}

export interface OwnDaemonOptions {
  /** Appended to the generated config.toml (e.g. runtime_handlers tables). */
  extraToml?: string;
  /** Extra plugins after bridge (before portmap) in the CNI conflist. */
  cniPlugins?: Record<string, unknown>[];
  /** MTU of the CNI bridge and pod veths (as an overlay network's 1450); the plugin's default otherwise. */
  bridgeMtu?: number;
  /** Extra lines for the [registry] table (e.g. unpack caps). */
  registryToml?: string;
  /** CNI plugin dirs searched before /usr/lib/cni. */
  cniBinDirs?: string[];
  /** Extra lines for the [cni] table (e.g. conf_template). */
  cniToml?: string;
}

/** The runc handler plus a micro-VM handler whose guest image is cached in a shared test dir (not rebuilt per daemon). */
export const VM_HANDLERS_TOML = `
[runtime_handlers.runc]
kind = "oci"
runtime_path = "${RUNC}"
[runtime_handlers.microvm]
kind = "vm"
memory_mib = 256
guest_root = "${GUEST_CACHE}"
`;

export function ownDaemon(tag: string, opts: OwnDaemonOptions = {}): OwnDaemon {
  const rand = randomBytes(3).toString('hex');
  const dir = mkdtempSync(join(tmpdir(), `bulkhead-${tag}-`));
  const state = `/run/bulkhead-test-pods-${tag}-${rand}`;
  const bridge = `bhp${rand}`;
  const subnetPrefix = `10.${200 + (parseInt(rand.slice(0, 2), 16) % 50)}.${parseInt(rand.slice(2, 4), 16)}`;
  const d: OwnDaemon = {
    dir,
    root: join(dir, 'root'),
    state,
    sock: join(dir, 'b.sock'),
    bridge,
    subnetPrefix,
    logDir: join(dir, 'logs'),
    async start() {
      mkdirSync(join(dir, 'cni'), { recursive: true });
      mkdirSync(d.logDir, { recursive: true });
      writeFileSync(
        join(dir, 'cni', '10-test.conflist'),
        JSON.stringify({
          cniVersion: '1.0.0',
          name: `test-${rand}`,
          plugins: [
            { type: 'bridge', bridge, isGateway: true, ipMasq: false, ...(opts.bridgeMtu ? { mtu: opts.bridgeMtu } : {}), ipam: { type: 'host-local', ranges: [[{ subnet: `${subnetPrefix}.0/24` }]], dataDir: join(dir, 'ipam') } },
            ...(opts.cniPlugins ?? []),
            { type: 'portmap', capabilities: { portMappings: true } },
          ],
        }),
      );
      writeFileSync(
        join(dir, 'config.toml'),
        `root = "${d.root}"\nstate = "${state}"\naddress = "${d.sock}"\nlog_level = "debug"\n[cni]\nconf_dir = "${join(dir, 'cni')}"\nbin_dirs = ${JSON.stringify([...(opts.cniBinDirs ?? []), '/usr/lib/cni'])}\n${opts.cniToml ?? ''}\n[registry]\nconfig_path = "${join(REPO, 'e2e/certs.d')}"\n${opts.registryToml ?? ''}\n` +
          // Without a handler table of its own, the test daemon shares one guest-image cache.
          (opts.extraToml?.includes('[runtime_handlers')
            ? opts.extraToml
            : `[runtime_handlers.runc]\nkind = "oci"\nruntime_path = "${RUNC}"\n[runtime_handlers.microvm]\nkind = "vm"\nguest_root = "${GUEST_CACHE}"\n${opts.extraToml ?? ''}`),
      );
      rmSync(d.sock, { force: true });
      const logFd = openSync(join(dir, 'bulkheadd.log'), 'a');
      d.proc = spawn('node', [join(REPO, 'dist/cmd/bulkheadd/main.js'), '--config', join(dir, 'config.toml')], {
        stdio: ['ignore', logFd, logFd],
        detached: true,
        env: { ...process.env },
      });
      closeSync(logFd);
      for (let i = 0; i < 150; i++) {
        if (existsSync(d.sock) && (await d.crictl('version').then(() => true, () => false))) return;
        if (d.proc.exitCode !== null) throw new Error(`bulkheadd exited (${d.proc.exitCode}): ${readFileSync(join(dir, 'bulkheadd.log'), 'utf8').slice(-2000)}`); // the log's tail: the dir goes with the test
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error('bulkheadd did not come up');
    },
    async kill(signal) {
      const p = d.proc;
      if (!p || p.exitCode !== null || p.signalCode !== null) return;
      const exited = new Promise((r) => p.once('exit', r));
      p.kill(signal);
      await exited;
    },
    async crictl(...args) {
      const { stdout } = await run(CRICTL, [...crictlEndpoints(d.sock), '--timeout', '60s', ...args], { maxBuffer: 16 << 20 });
      return stdout;
    },
    async cleanup() {
      if (process.env.BULKHEAD_E2E_KEEP_LOG) writeFileSync(process.env.BULKHEAD_E2E_KEEP_LOG, readFileSync(join(dir, 'bulkheadd.log')));
      await d.crictl('rmp', '-af').catch(() => undefined);
      await d.kill('SIGTERM');
      await run('ip', ['link', 'del', bridge]).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
      rmSync(state, { recursive: true, force: true });
      d.onCleanup?.();
    },
  };
  return d;
}

/** Lines of /proc/self/mountinfo whose mount point is under one of the dirs. */
export function mountsUnder(...dirs: string[]): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => dirs.some((dir) => (l.split(' ')[4] ?? '').startsWith(dir)));
}

/**
 * The afterAll of a spec that ran one pod on its own daemon: the pod stopped and removed (best
 * effort: a failed spec may have left it in any state), the client closed, the daemon gone.
 */
export async function teardownPodDaemon(cri: CriClient | undefined, pod: string | undefined, d: OwnDaemon | undefined): Promise<void> {
  if (cri && pod) {
    await cri.call('StopPodSandbox', { pod_sandbox_id: pod }, 60_000).catch(() => undefined);
    await cri.call('RemovePodSandbox', { pod_sandbox_id: pod }, 60_000).catch(() => undefined);
  }
  cri?.close();
  await d?.cleanup();
}
