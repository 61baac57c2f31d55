// The pod's network as the guest gets it: the tap wired to the CNI veth in the pod netns (same MTU),
// and the SetupSandbox request carrying the CNI addresses, routes and DNS to the agent.
import type { SandboxRecord } from '../../store/records.js';
import type { PodNetworkStatus } from '../../network/cni.js';
import type { RequestOf } from '../../vmchannel/protocol.js';
import { failedPrecondition } from '../../errors/errors.js';
import { linkMac, linkMtu, redirectTapToVeth, setLinkMtu, TAP_NAME } from './tap-network.js';

/** The CNI interface the guest NIC stands for, as wired to the tap. */
export interface WiredVeth {
  name: string;
  mac: string;
  /** 0: unknown (the guest keeps its default). */
  mtu: number;
}

/**
 * The one CNI interface inside the pod netns the guest NIC stands for. A VM has one NIC (pooled and
 * restored VMs are made before their pod's network is known), so a result with several in-sandbox
 * interfaces (Multus-style chains) is refused rather than all but one silently dropped.
 */
export function podInterface(net: PodNetworkStatus | undefined): PodNetworkStatus['interfaces'][number] | undefined {
  const inPod = net?.interfaces.filter((i) => i.sandbox) ?? [];
  if (inPod.length > 1) {
    throw failedPrecondition(`CNI gave the pod ${inPod.length} interfaces (${inPod.map((i) => i.name).join(', ')}); a micro-VM pod has one network interface: use one network for micro-VM pods or a namespace handler such as runc`);
  }
  return inPod[0] ?? net?.interfaces.find((i) => i.name === 'eth0');
}

/** tc mirred between the CNI veth and the VM's tap; undefined when CNI gave the pod no interface. */
export async function wireTapToVeth(netns: string, net: PodNetworkStatus | undefined): Promise<WiredVeth | undefined> {
  const veth = podInterface(net);
  if (!veth) return undefined;
  const mac = veth.mac || (await linkMac(netns, veth.name));
  // The guest NIC and the tap take the CNI interface's MTU (an overlay's 1450 or below): with the
  // default 1500 the guest would send frames the pod network drops.
  const mtu = (await linkMtu(netns, veth.name)) ?? 0;
  if (mtu) await setLinkMtu(netns, TAP_NAME, mtu);
  await redirectTapToVeth(netns, veth.name);
  return { name: veth.name, mac, mtu };
}

/** CNI routes without a gateway use the gateway of the pod IP of the same family (CNI spec). */
export function guestRoutes(net: PodNetworkStatus | undefined): { dst: string; gateway: string }[] {
  if (!net) return [];
  const gw = (v6: boolean): string => net.ipConfigs.find((c) => c.address.includes(':') === v6 && c.gateway)?.gateway ?? '';
  return net.routes.map((r) => ({ dst: r.dst, gateway: r.gw ?? gw(r.dst.includes(':')) }));
}

/**
 * What the agent needs to make the guest the pod: hostname, DNS, the NIC (found by the MAC it booted
 * with, bootMac, and given the veth's), routes, the share's tag and the pod sysctls.
 */
export function setupSandboxRequest(sb: SandboxRecord, net: PodNetworkStatus | undefined, veth: WiredVeth | undefined, bootMac: string, shareTag: string): RequestOf<'setup_sandbox'> {
  const dns = sb.config.dns_config;
  return {
    sandbox_id: sb.id,
    hostname: sb.config.hostname || sb.config.metadata?.name?.slice(0, 63) || '',
    dns: { servers: dns?.servers ?? [], searches: dns?.searches ?? [], options: dns?.options ?? [] },
    interfaces: veth ? [{ name: 'eth0', mac: veth.mac, guest_mac: bootMac, addresses: (net?.ipConfigs ?? []).map((c) => ({ cidr: c.address })), mtu: veth.mtu }] : [],
    routes: guestRoutes(net),
    shared_fs_tag: shareTag,
    sysctls: sb.config.linux?.sysctls ?? {},
  };
}
