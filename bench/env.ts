// The bench's shared surroundings: one temp dir, one CNI network (deploy/cni/10-bulkhead.conflist
// with a bench-unique name, bridge and subnet) and one certs.d with loopback-registry mirrors,
// both handed to both runtimes so they differ only in themselves.
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

/** The loopback registry every runtime pulls from (mirrors below). BENCH_REGISTRY moves it, e.g. to a
 *  private registry on another port while e2e owns :5000; the image scripts get it as REG. */
export const REGISTRY = process.env.BENCH_REGISTRY ?? '127.0.0.1:5000';
export const MIRRORED = ['docker.io', 'registry.k8s.io', 'k8s.gcr.io', 'gcr.io', 'public.ecr.aws', 'quay.io'];

export interface BenchEnv {
  readonly repo: string;
  readonly dir: string;
  readonly cniConfDir: string;
  readonly cniBinDir: string;
  readonly certsDir: string;
  readonly networkName: string;
  readonly bridge: string;
  readonly subnet: string;
  cleanup(): void;
}

function usedSubnets(): string {
  try {
    return execFileSync('ip', ['-4', 'route'], { encoding: 'utf8' });
  } catch {
    return '';
  }
}

export function createEnv(repo: string): BenchEnv {
  const dir = mkdtempSync(join(process.env.BENCH_DIR ?? '/tmp', 'bulkhead-bench-'));
  const tag = dir.slice(-6).toLowerCase().replace(/[^a-z0-9]/g, 'x');
  const routes = usedSubnets();
  let second = 0;
  for (let tries = 0; tries < 50; tries++) {
    const cand = 160 + Math.floor(Math.random() * 80);
    if (!routes.includes(`10.${cand}.`)) {
      second = cand;
      break;
    }
  }
  if (!second) throw new Error('no free 10.x.0.0/16 subnet for the bench network');
  const subnet = `10.${second}.0.0/16`;
  const networkName = `bench-${tag}`;
  const bridge = `bhb${tag}`.slice(0, 15);

  const cniConfDir = join(dir, 'cni');
  mkdirSync(cniConfDir);
  const conf = JSON.parse(readFileSync(join(repo, 'deploy/cni/10-bulkhead.conflist'), 'utf8')) as {
    name: string;
    plugins: Array<{ type: string; bridge?: string; isGateway?: boolean; ipam?: { subnet?: string } }>;
  };
  conf.name = networkName;
  for (const p of conf.plugins) {
    if (p.type === 'bridge') {
      p.bridge = bridge;
      // No route off the bridge: pods may only talk inside their subnet on this machine.
      p.isGateway = false;
      if (p.ipam) p.ipam.subnet = subnet;
    }
  }
  writeFileSync(join(cniConfDir, '10-bench.conflist'), JSON.stringify(conf, null, 2));

  // The bridge exists before the first pod, with a MAC set by hand: a Linux bridge otherwise takes
  // the lowest MAC of its ports, which changes as pods come and go, and CRI-O's CNI CHECK after ADD
  // (bridge plugin 1.1.1 compares the bridge MAC with ADD's result) then fails with 10–20 pods in
  // flight ("Bridge interface … Mac doesn't match"). Same bridge for every runtime.
  const mac = `02:b4:${[...randomBytes(4)].map((b) => b.toString(16).padStart(2, '0')).join(':')}`;
  execFileSync('ip', ['link', 'add', 'name', bridge, 'address', mac, 'type', 'bridge']);
  execFileSync('ip', ['link', 'set', bridge, 'up']);

  const certsDir = join(dir, 'certs.d');
  for (const host of [...MIRRORED, REGISTRY]) {
    mkdirSync(join(certsDir, host), { recursive: true });
    const server = host === REGISTRY ? `http://${REGISTRY}` : `https://${host}`;
    writeFileSync(
      join(certsDir, host, 'hosts.toml'),
      `server = "${server}"\n\n[host."http://${REGISTRY}"]\n  capabilities = ["pull", "resolve"]\n`,
    );
  }

  return {
    repo,
    dir,
    cniConfDir,
    cniBinDir: '/usr/lib/cni',
    certsDir,
    networkName,
    bridge,
    subnet,
    cleanup() {
      try {
        execFileSync('ip', ['link', 'del', bridge], { stdio: 'ignore' });
      } catch {
        /* bridge never created or already gone */
      }
      rmSync(join('/var/lib/cni/networks', networkName), { recursive: true, force: true });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
