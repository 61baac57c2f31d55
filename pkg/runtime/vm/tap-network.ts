// Kata-style "tcfilter" wiring inside the pod netns: a tap for QEMU, and tc ingress + mirred redirect
// both ways between the CNI veth (eth0) and the tap (docs/microvm.md §6). The guest NIC carries the
// veth's MAC, so the pod's IP/MAC as CNI set them up are the guest's.
import { execInNetnsOk } from '../../sys/netns-exec.js';

export const TAP_NAME = 'tap0_vm';

export async function createTap(netns: string): Promise<void> {
  await execInNetnsOk(netns, 'ip', ['tuntap', 'add', 'dev', TAP_NAME, 'mode', 'tap']);
  await execInNetnsOk(netns, 'ip', ['link', 'set', TAP_NAME, 'up']);
}

export async function redirectTapToVeth(netns: string, veth: string): Promise<void> {
  const tc = (args: string[]): Promise<string> => execInNetnsOk(netns, 'tc', args);
  // The pod IP belongs to the guest now: remove it from the veth so the netns' own stack never
  // claims it (all frames are redirected before it would see them anyway).
  await execInNetnsOk(netns, 'ip', ['addr', 'flush', 'dev', veth]);
  await tc(['qdisc', 'add', 'dev', veth, 'ingress']);
  await tc(['filter', 'add', 'dev', veth, 'parent', 'ffff:', 'protocol', 'all', 'u32', 'match', 'u8', '0', '0', 'action', 'mirred', 'egress', 'redirect', 'dev', TAP_NAME]);
  await tc(['qdisc', 'add', 'dev', TAP_NAME, 'ingress']);
  await tc(['filter', 'add', 'dev', TAP_NAME, 'parent', 'ffff:', 'protocol', 'all', 'u32', 'match', 'u8', '0', '0', 'action', 'mirred', 'egress', 'redirect', 'dev', veth]);
}

// Link facts come from netlink (`ip -o link show`), not /sys/class/net: sysfs shows the devices of
// the network namespace it was mounted in (the host's, for a process that only entered the pod's
// netns), so reading it there returned the host's eth0 (MTU 1400 on the CI machine, its MAC).

/** `ip -o link show dev X` fields: MAC and MTU. */
export function parseIpLink(line: string): { mac?: string; mtu?: number } {
  const mac = /\slink\/ether\s+([0-9a-f]{2}(?::[0-9a-f]{2}){5})\b/i.exec(line)?.[1];
  const mtuText = /\smtu\s+(\d+)\b/.exec(line)?.[1];
  const mtu = mtuText === undefined ? undefined : Number(mtuText);
  // 68: the IPv4 minimum (RFC 791); 65535: the largest a link reports.
  return { mac: mac?.toLowerCase(), mtu: mtu !== undefined && mtu >= 68 && mtu <= 65535 ? mtu : undefined };
}

async function linkInfo(netns: string, dev: string): Promise<{ mac?: string; mtu?: number }> {
  return parseIpLink(await execInNetnsOk(netns, 'ip', ['-o', 'link', 'show', 'dev', dev]));
}

export async function linkMac(netns: string, dev: string): Promise<string> {
  return (await linkInfo(netns, dev)).mac ?? '';
}

/** The link's MTU (overlay CNIs set 1450 and below); undefined when unreadable or out of range. */
export async function linkMtu(netns: string, dev: string): Promise<number | undefined> {
  return (await linkInfo(netns, dev)).mtu;
}

export async function setLinkMtu(netns: string, dev: string, mtu: number): Promise<void> {
  await execInNetnsOk(netns, 'ip', ['link', 'set', 'dev', dev, 'mtu', String(mtu)]);
}
