// The node's pod CIDR (kubelet's UpdateRuntimeConfig) and the CNI config rendered from it.
//
// kubelet sends node.spec.podCIDRs (comma-separated for dual-stack) when the controller manager
// allocates them. Without a CNI plugin that manages its own config (kindnet, Calico...), a node's
// bridge/host-local config needs that range: containerd renders `conf_template` into its CNI conf
// dir for exactly this. Bulkhead does the same with `cni.conf_template`, using plain placeholders
// rather than Go's text/template (which would need an interpreter here):
//   ${POD_CIDR}         the first range, e.g. 10.244.1.0/24
//   ${POD_CIDR_RANGES}  host-local "ranges": [[{"subnet":"10.244.1.0/24"}],[{"subnet":"fd00::/64"}]]
//   ${ROUTES}           a default route per family: [{"dst":"0.0.0.0/0"},{"dst":"::/0"}]
// The rendered file must parse as a CNI config before it replaces the previous one, and the CIDR
// survives a restart (runtime-settings.json) so the file is re-rendered when the template changes.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { isIPv4, isIPv6 } from 'node:net';
import { join } from 'node:path';
import { readJsonSync, writeFileAtomic, writeJsonAtomic } from '../store/atomic-file.js';
import { parseNetworkConfig } from './cni-config.js';

/** The file written into the CNI conf dir; "10-" sorts it before most hand-written configs. */
export const TEMPLATE_CONF_NAME = '10-bulkhead-template.conflist';
/** kubelet sends at most one range per family; 8 bounds what a bad caller can make us render. */
const MAX_RANGES = 8;

export class PodCidrError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PodCidrError';
  }
}

/** "10.244.1.0/24,fd00::/64" → its ranges, each a valid IPv4/IPv6 CIDR; "" → []. */
export function parsePodCidrs(value: string): string[] {
  const parts = value.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (parts.length > MAX_RANGES) throw new PodCidrError(`pod CIDR: ${parts.length} ranges, at most ${MAX_RANGES}`);
  for (const p of parts) {
    const m = /^([^/]+)\/(\d{1,3})$/.exec(p);
    const bits = m && isIPv4(m[1]!) ? 32 : m && isIPv6(m[1]!) ? 128 : 0;
    if (!m || bits === 0 || Number(m[2]) > bits) throw new PodCidrError(`pod CIDR: "${p.slice(0, 64)}" is not an IPv4 or IPv6 CIDR`);
  }
  return parts;
}

/** The template with the placeholders filled in; throws PodCidrError if the result is no CNI config. */
export function renderConfTemplate(template: string, ranges: string[], templatePath: string): string {
  const rangesJson = JSON.stringify(ranges.map((subnet) => [{ subnet }]));
  const routes = JSON.stringify([...new Set(ranges.map((r) => (r.includes(':') ? '::/0' : '0.0.0.0/0')))].map((dst) => ({ dst })));
  const text = template
    .replaceAll('${POD_CIDR}', ranges[0] ?? '')
    .replaceAll('${POD_CIDR_RANGES}', rangesJson)
    .replaceAll('${ROUTES}', routes);
  try {
    parseNetworkConfig(text, TEMPLATE_CONF_NAME);
  } catch (e) {
    throw new PodCidrError(`cni.conf_template ${templatePath} rendered for ${ranges.join(',')}: ${(e as Error).message}`);
  }
  return text;
}

interface Saved {
  pod_cidr: string;
}

export class PodCidrSettings {
  private saved: Saved;
  private readonly file: string;

  constructor(private readonly opts: { root: string; confDir: string; confTemplate?: string | undefined }) {
    this.file = join(opts.root, 'runtime-settings.json');
    this.saved = readJsonSync<Saved>(this.file) ?? { pod_cidr: '' };
  }

  get podCidr(): string {
    return this.saved.pod_cidr;
  }

  /** kubelet's value: validated, rendered into the CNI conf dir (when a template is set), then kept. */
  async update(value: string): Promise<void> {
    const ranges = parsePodCidrs(value);
    const canonical = ranges.join(',');
    if (canonical === '' || (canonical === this.saved.pod_cidr && this.rendered())) return;
    await this.render(ranges);
    this.saved = { ...this.saved, pod_cidr: canonical };
    await writeJsonAtomic(this.file, this.saved);
  }

  /** At start-up: re-render from the saved CIDR, so an edited template takes effect. */
  async restore(): Promise<void> {
    if (this.saved.pod_cidr) await this.render(parsePodCidrs(this.saved.pod_cidr));
  }

  private rendered(): boolean {
    return !this.opts.confTemplate || existsSync(join(this.opts.confDir, TEMPLATE_CONF_NAME));
  }

  private async render(ranges: string[]): Promise<void> {
    const path = this.opts.confTemplate;
    if (!path) return;
    let template: string;
    try {
      template = readFileSync(path, 'utf8');
    } catch (e) {
      throw new PodCidrError(`cni.conf_template ${path}: ${(e as Error).message}`);
    }
    mkdirSync(this.opts.confDir, { recursive: true });
    // 0644 like the CNI configs admins write: plugins and tools read it as other users.
    await writeFileAtomic(join(this.opts.confDir, TEMPLATE_CONF_NAME), renderConfTemplate(template, ranges, path), 0o644);
  }
}
