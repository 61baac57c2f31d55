// Applies the pod-level configuration inside the guest: hostname, DNS, /etc/hosts and the network
// interfaces (the virtio-net device whose MAC equals the CNI result's gets its name, IPs and routes).
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { SetupSandboxRequest__Output } from '../../api/gen/agent/bulkhead/agent/v1/SetupSandboxRequest.js';
import { runAll } from './exec-file.js';
import { AgentError, Code } from '../vmchannel/codec.js';
import { GUEST_SHARE_DIR } from '../vmchannel/protocol.js';

export function resolvConf(dns: SetupSandboxRequest__Output['dns']): string {
  if (!dns) return '';
  const lines = dns.servers.map((s) => `nameserver ${s}`);
  if (dns.searches.length) lines.push(`search ${dns.searches.join(' ')}`);
  if (dns.options.length) lines.push(`options ${dns.options.join(' ')}`);
  return lines.length ? lines.join('\n') + '\n' : '';
}

function ifaceByMac(mac: string): string | undefined {
  const want = mac.toLowerCase();
  for (const name of readdirSync('/sys/class/net')) {
    try {
      if (readFileSync(`/sys/class/net/${name}/address`, 'utf8').trim().toLowerCase() === want) return name;
    } catch {
      /* vanished */
    }
  }
  return undefined;
}

/** Writes /proc/sys/<name> (kernel.shm_rmid_forced or kernel/shm_rmid_forced) in the guest. */
export function setSysctl(name: string, value: string): void {
  if (!/^[a-z0-9_][a-z0-9_./-]*$/i.test(name) || name.split(/[./]/).some((p) => p === '' || p === '..')) {
    throw new AgentError(Code.InvalidArgument, `bad sysctl name ${JSON.stringify(name)}`);
  }
  // Dotted names use '/' for a '.' inside a component (net.ipv4.conf.eth0/1.rp_filter): swap them.
  const path = name.includes('.') ? name.replace(/[./]/g, (c) => (c === '.' ? '/' : '.')) : name;
  try {
    writeFileSync(`/proc/sys/${path}`, value);
  } catch (e) {
    throw new AgentError(Code.InvalidArgument, `sysctl ${name}=${value} in the pod VM: ${(e as Error).message}`);
  }
}

/** Where the pod's virtio-fs share is mounted in the guest. */
export const SHARE_DIR = GUEST_SHARE_DIR;

export async function setupSandbox(req: SetupSandboxRequest__Output): Promise<void> {
  // The mount and the network are one sh run (runAll): 8-10 spawns from Node took ~1 s under TCG.
  const cmds: string[][] = [];
  if (req.shared_fs_tag) {
    mkdirSync(SHARE_DIR, { recursive: true });
    const mounted = readFileSync('/proc/self/mounts', 'utf8').split('\n').some((l) => l.split(' ')[1] === SHARE_DIR);
    if (!mounted) cmds.push(['mount', '-t', 'virtiofs', req.shared_fs_tag, SHARE_DIR]);
  }
  if (req.hostname) {
    if (!/^[a-zA-Z0-9]([-a-zA-Z0-9.]{0,62})$/.test(req.hostname)) throw new AgentError(Code.InvalidArgument, `bad hostname ${req.hostname}`);
    writeFileSync('/proc/sys/kernel/hostname', req.hostname);
    writeFileSync('/etc/hostname', req.hostname + '\n');
  }
  for (const [name, value] of Object.entries(req.sysctls ?? {})) setSysctl(name, value);
  writeFileSync('/etc/resolv.conf', resolvConf(req.dns));
  const hosts = ['127.0.0.1 localhost', '::1 localhost ip6-localhost ip6-loopback'];
  const firstIp = req.interfaces[0]?.addresses[0]?.cidr.split('/')[0];
  if (req.hostname && firstIp) hosts.push(`${firstIp} ${req.hostname}`);
  writeFileSync('/etc/hosts', [...hosts, ...req.hosts].join('\n') + '\n');
  cmds.push(...networkCommands(req, ifaceByMac));
  await runAll(cmds);
}

/** The `ip` commands that give the guest NICs (found by MAC) the pod's names, MACs, MTU, addresses and routes. */
export function networkCommands(req: Pick<SetupSandboxRequest__Output, 'interfaces' | 'routes'>, byMac: (mac: string) => string | undefined): string[][] {
  const cmds: string[][] = [['ip', 'link', 'set', 'lo', 'up']];
  for (const itf of req.interfaces) {
    let cur = byMac(itf.guest_mac || itf.mac);
    if (!cur) throw new AgentError(Code.FailedPrecondition, `no guest interface with MAC ${itf.guest_mac || itf.mac}`);
    if (itf.guest_mac && itf.guest_mac.toLowerCase() !== itf.mac.toLowerCase()) {
      cmds.push(['ip', 'link', 'set', 'dev', cur, 'down'], ['ip', 'link', 'set', 'dev', cur, 'address', itf.mac]);
    }
    const name = itf.name || cur;
    if (cur !== name) {
      cmds.push(['ip', 'link', 'set', 'dev', cur, 'name', name]);
      cur = name;
    }
    if (itf.mtu) cmds.push(['ip', 'link', 'set', 'dev', cur, 'mtu', String(itf.mtu)]);
    for (const a of itf.addresses) cmds.push(['ip', 'addr', 'add', a.cidr, 'dev', cur]);
    cmds.push(['ip', 'link', 'set', 'dev', cur, 'up']);
  }
  for (const r of req.routes) {
    const dst = r.dst === '0.0.0.0/0' || r.dst === '::/0' || !r.dst ? 'default' : r.dst;
    const args = [...(r.dst.includes(':') || r.gateway.includes(':') ? ['-6'] : []), 'route', 'add', dst];
    if (r.gateway) args.push('via', r.gateway);
    else if (req.interfaces[0]) args.push('dev', req.interfaces[0].name || 'eth0');
    cmds.push(['ip', ...args]);
  }
  return cmds;
}
