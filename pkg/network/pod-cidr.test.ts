import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parsePodCidrs, PodCidrError, PodCidrSettings, renderConfTemplate, TEMPLATE_CONF_NAME } from './pod-cidr.js';

const TEMPLATE = JSON.stringify({
  cniVersion: '1.0.0',
  name: 'pods',
  plugins: [{ type: 'bridge', bridge: 'cni0', ipam: { type: 'host-local', ranges: '@RANGES@', routes: '@ROUTES@' }, note: '${POD_CIDR}' }],
}).replace('"@RANGES@"', '${POD_CIDR_RANGES}').replace('"@ROUTES@"', '${ROUTES}');

const dirs: string[] = [];
function tmp(): string {
  const d = mkdtempSync(join(tmpdir(), 'podcidr-'));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('parsePodCidrs', () => {
  it('takes kubelet\'s single and dual-stack forms', () => {
    expect(parsePodCidrs('10.244.1.0/24')).toEqual(['10.244.1.0/24']);
    expect(parsePodCidrs(' 10.244.1.0/24 , fd00:10:244:1::/64 ')).toEqual(['10.244.1.0/24', 'fd00:10:244:1::/64']);
    expect(parsePodCidrs('')).toEqual([]);
  });

  it.each(['10.244.1.0', '10.244.1.0/33', 'fd00::/129', 'x/24', '10.0.0.0/24"}]', Array(9).fill('10.0.0.0/8').join(',')])('refuses %s', (v) => {
    expect(() => parsePodCidrs(v)).toThrow(PodCidrError);
  });
});

describe('renderConfTemplate', () => {
  it('fills ranges, routes and the first CIDR', () => {
    const out = JSON.parse(renderConfTemplate(TEMPLATE, ['10.244.1.0/24', 'fd00::/64'], 't')) as { plugins: { ipam: unknown; note: string }[] };
    expect(out.plugins[0]!.ipam).toEqual({
      type: 'host-local',
      ranges: [[{ subnet: '10.244.1.0/24' }], [{ subnet: 'fd00::/64' }]],
      routes: [{ dst: '0.0.0.0/0' }, { dst: '::/0' }],
    });
    expect(out.plugins[0]!.note).toBe('10.244.1.0/24');
  });

  it('refuses a template that does not render to a CNI config', () => {
    expect(() => renderConfTemplate('{"name": ${POD_CIDR}}', ['10.0.0.0/24'], '/etc/t')).toThrow(/cni.conf_template \/etc\/t rendered for 10.0.0.0\/24: .*invalid JSON/);
  });
});

describe('PodCidrSettings', () => {
  it('renders the template into the conf dir, keeps the CIDR across restarts, re-renders on restore', async () => {
    const root = tmp();
    const conf = tmp();
    const template = join(root, 'template.conflist');
    writeFileSync(template, TEMPLATE);
    const s = new PodCidrSettings({ root, confDir: conf, confTemplate: template });
    await s.update('10.244.3.0/24');
    const out = join(conf, TEMPLATE_CONF_NAME);
    expect(readFileSync(out, 'utf8')).toContain('"subnet":"10.244.3.0/24"');

    const again = new PodCidrSettings({ root, confDir: conf, confTemplate: template });
    expect(again.podCidr).toBe('10.244.3.0/24');
    rmSync(out);
    await again.restore();
    expect(existsSync(out)).toBe(true);
  });

  it('keeps the CIDR without a template and writes nothing into the conf dir', async () => {
    const root = tmp();
    const conf = tmp();
    const s = new PodCidrSettings({ root, confDir: conf });
    await s.update('10.244.3.0/24');
    expect(s.podCidr).toBe('10.244.3.0/24');
    expect(existsSync(join(conf, TEMPLATE_CONF_NAME))).toBe(false);
  });

  it('a refused CIDR changes nothing', async () => {
    const root = tmp();
    const s = new PodCidrSettings({ root, confDir: tmp() });
    await s.update('10.244.3.0/24');
    await expect(s.update('10.244.3.0/40')).rejects.toThrow(PodCidrError);
    expect(s.podCidr).toBe('10.244.3.0/24');
  });
});
