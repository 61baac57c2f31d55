// Runtime values for the CNI capabilities plugins may declare (the runtimeConfig of the CNI
// conventions doc), built from the CRI pod config the way containerd does.
import type * as cri from '../api/cri-types.js';

export interface CapabilityInput {
  portMappings: cri.PortMapping__Output[];
  annotations: Record<string, string>;
  cgroupParent?: string;
  dns?: cri.DNSConfig__Output | null;
}

export interface CniPortMapping {
  hostPort: number;
  containerPort: number;
  protocol: string;
  hostIP?: string;
}

const SUFFIX: Record<string, number> = {
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
  m: 1e-3,
};

/** Parses a Kubernetes resource quantity ("10M", "1Gi", "500k") to a number. */
export function parseQuantity(q: string): number {
  const m = /^\s*([+]?[0-9]+(?:\.[0-9]+)?)(?:([eE][+-]?[0-9]+)|(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E|m)?)\s*$/.exec(q);
  if (!m) throw new Error(`invalid quantity "${q}"`);
  const base = parseFloat(m[1]!);
  if (m[2]) return base * 10 ** parseInt(m[2].slice(1), 10);
  return Math.ceil(base * SUFFIX[m[3] ?? '']!);
}

const MAX_UINT32 = 4294967295;

/** All capability values a pod can supply; pluginStdin keeps those a plugin declares. */
export function capabilityValues(input: CapabilityInput): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  const ports: CniPortMapping[] = input.portMappings
    .filter((p) => p.host_port > 0)
    .map((p) => ({
      hostPort: p.host_port,
      containerPort: p.container_port,
      protocol: (p.protocol || 'TCP').toLowerCase(),
      ...(p.host_ip ? { hostIP: p.host_ip } : {}),
    }));
  if (ports.length) values.portMappings = ports;

  const ingress = input.annotations['kubernetes.io/ingress-bandwidth'];
  const egress = input.annotations['kubernetes.io/egress-bandwidth'];
  if (ingress || egress) {
    const bw: Record<string, number> = {};
    // Rates are bits per second; burst as containerd sets it (effectively unlimited).
    if (ingress) Object.assign(bw, { ingressRate: parseQuantity(ingress), ingressBurst: MAX_UINT32 });
    if (egress) Object.assign(bw, { egressRate: parseQuantity(egress), egressBurst: MAX_UINT32 });
    values.bandwidth = bw;
  }
  if (input.dns && (input.dns.servers.length || input.dns.searches.length || input.dns.options.length)) {
    values.dns = { servers: input.dns.servers, searches: input.dns.searches, options: input.dns.options };
  }
  if (input.cgroupParent) values.cgroupPath = input.cgroupParent;
  values['io.kubernetes.cri.pod-annotations'] = input.annotations;
  return values;
}
