// Per-pod files bind-mounted into every container: /etc/hostname, /etc/resolv.conf (from the
// pod's DNSConfig, else the host's), /etc/hosts, and a /dev/shm tmpfs (unless host IPC).
import { copyFile, mkdir, writeFile, rm } from 'node:fs/promises';
import { hostname as osHostname } from 'node:os';
import { join } from 'node:path';
import type * as cri from '../api/cri-types.js';
import { detachIfMountedAsync, mountAsync } from '../sys/mount-async.js';
import { MS_NODEV, MS_NOEXEC, MS_NOSUID } from '../sys/mount.js';
import type { SandboxRecord } from '../store/records.js';

export const SHM_SIZE = '64m';

export function resolvConfText(dns: cri.DNSConfig__Output): string {
  const lines: string[] = [];
  if (dns.searches.length) lines.push(`search ${dns.searches.join(' ')}`);
  for (const s of dns.servers) lines.push(`nameserver ${s}`);
  if (dns.options.length) lines.push(`options ${dns.options.join(' ')}`);
  return lines.join('\n') + '\n';
}

export async function writePodFiles(sb: SandboxRecord, hostIpc: boolean, hostNet: boolean): Promise<void> {
  await mkdir(sb.dir, { recursive: true, mode: 0o711 });
  const hostname = join(sb.dir, 'hostname');
  const resolv = join(sb.dir, 'resolv.conf');
  const hosts = join(sb.dir, 'hosts');
  const name = hostNet ? osHostname() : sb.config.hostname || osHostname();
  const dns = sb.config.dns_config;
  await Promise.all([
    writeFile(hostname, name + '\n', { mode: 0o644 }),
    dns && (dns.servers.length || dns.searches.length || dns.options.length)
      ? writeFile(resolv, resolvConfText(dns), { mode: 0o644 })
      : copyFile('/etc/resolv.conf', resolv).catch(() => writeFile(resolv, '', { mode: 0o644 })),
    hostNet
      ? copyFile('/etc/hosts', hosts)
      : writeFile(hosts, `127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n`, { mode: 0o644 }),
  ]);
  sb.files = { hostname, resolvConf: resolv, hosts };
  if (!hostIpc) {
    const shm = join(sb.stateDir, 'shm');
    await mkdir(shm, { recursive: true, mode: 0o1777 });
    await mountAsync('shm', shm, 'tmpfs', MS_NOSUID | MS_NODEV | MS_NOEXEC, `mode=1777,size=${SHM_SIZE}`);
    sb.files.shm = shm;
  }
}

export async function removePodFiles(sb: SandboxRecord): Promise<void> {
  // By its fixed path too: a crash may have mounted it before the record named it.
  for (const shm of new Set([sb.files.shm, join(sb.stateDir, 'shm')])) {
    if (shm) for (let i = 0; i < 4 && (await detachIfMountedAsync(shm)); i++);
  }
  // Only the files: the directory also holds the record, which must outlive every other step of
  // a removal (RecordStore.remove deletes it last). Removing it here, before the namespaces,
  // infra and cgroup were released, made a crash in between leak all of them for good.
  await Promise.all(['hostname', 'resolv.conf', 'hosts'].map((f) => rm(join(sb.dir, f), { force: true })));
}
