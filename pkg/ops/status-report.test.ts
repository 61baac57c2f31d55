import { afterAll, describe, expect, test } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildStatusReport, formatStatus } from './status-report.js';

const dir = mkdtempSync(join(tmpdir(), 'bulkhead-status-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('bulkhead status without a daemon', () => {
  test('reports the daemon as unreachable and still runs every local check, in one screen', async () => {
    const cfg = join(dir, 'c.toml');
    writeFileSync(cfg, `root = "${dir}/root"\nstate = "${dir}/state"\naddress = "${dir}/none.sock"\n[cni]\nconf_dir = "${dir}/net.d"\n`);
    const r = await buildStatusReport({ configPath: cfg });
    expect(r.daemon).toEqual({ reachable: false, address: `${dir}/none.sock`, error: `no socket at ${dir}/none.sock` });
    expect(r.config.source).toBe('file');
    expect(r.handlers.map((h) => h.name)).toEqual(['runc', 'crun', 'microvm']);
    expect(r.cni.ready).toBe(false);
    expect(r.ok).toBe(false);
    expect(r.blockers).toEqual(expect.arrayContaining(['daemon not reachable', 'CNI not ready']));
    const text = formatStatus(r);
    expect(text).toContain(`daemon not reachable at ${dir}/none.sock`);
    expect(text).toMatch(/runc \(default\)/);
    expect(text).toMatch(/microvm\s+vm\s+qemu/);
    expect(text).toContain(`no CNI config file (*.conf, *.conflist) in ${dir}/net.d`);
    expect(text.split('\n').length).toBeLessThan(25);
  });

  test('a broken config file is reported and the defaults are used for the checks', async () => {
    const cfg = join(dir, 'bad.toml');
    writeFileSync(cfg, `address = "${dir}/none.sock"\nlog_levl = "x"\n`);
    // A broken file falls back to the default address (/run/bulkhead/bulkhead.sock): name one that
    // cannot be served, or a daemon running on this host turns the source into "daemon".
    const r = await buildStatusReport({ configPath: cfg, address: `${dir}/none.sock` });
    expect(r.daemon.reachable).toBe(false);
    expect(r.config.source).toBe('defaults');
    expect(r.config.file_errors).toEqual(['log_levl: unknown key (did you mean "log_level"?)']);
    expect(formatStatus(r)).toContain(`✗ ${cfg}: log_levl: unknown key`);
  });

  test('a systemd cgroup driver on a host without systemd is a blocker with its reason', async () => {
    const cfg = join(dir, 'sd.toml');
    writeFileSync(cfg, `root = "${dir}/root"\nstate = "${dir}/state"\naddress = "${dir}/none.sock"\ncgroup_driver = "systemd"\n`);
    const r = await buildStatusReport({ configPath: cfg });
    expect(r.host.cgroup_driver.name).toBe('systemd');
    // This build host has no systemd as init (docs/machine.md); on a systemd host the driver is fine.
    if (r.host.cgroup_driver.problem) {
      expect(r.blockers).toContain(r.host.cgroup_driver.problem);
      expect(formatStatus(r)).toMatch(/cgroup driver systemd\n\s+✗ cgroup_driver "systemd": /);
    }
  });
});
