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

export async function linkMac(netns: string, dev: string): Promise<string> {
  const out = await execInNetnsOk(netns, 'cat', [`/sys/class/net/${dev}/address`]);
  return out.trim();
}
