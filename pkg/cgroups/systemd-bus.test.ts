// SystemdClient against a fake systemd manager: job waiting (JobRemoved before or after the reply),
// failed jobs, D-Bus errors, the one-time subscription, timeouts.
import { describe, expect, it } from 'vitest';
import { SystemdClient, SystemdError, systemdHostProblem } from './systemd-bus.js';
import { FakeSystemd, prop } from './testdata/fake-systemd.js';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const slice = [{ name: 'MemoryMax', signature: 't' as const, value: 1024n }];

describe('SystemdClient', () => {
  it('starts a transient unit and waits for its job', async () => {
    const fake = new FakeSystemd();
    const c = new SystemdClient(fake);
    await c.startTransientUnit('a.slice', slice);
    const start = fake.members('StartTransientUnit')[0]!;
    expect(start.signature).toBe('ssa(sv)a(sa(sv))');
    expect(start.body?.slice(0, 2)).toEqual(['a.slice', 'fail']);
    expect(prop(fake.units.get('a.slice'), 'MemoryMax')).toBe(1024n);
    // subscribed once, matching only JobRemoved
    await c.startTransientUnit('b.slice', []);
    expect(fake.members('Subscribe')).toHaveLength(1);
    expect(String(fake.members('AddMatch')[0]!.body![0])).toContain("member='JobRemoved'");
  });

  it('subscribes again after a reconnection', async () => {
    const fake = new FakeSystemd();
    const c = new SystemdClient(fake);
    await c.startTransientUnit('a.slice', []);
    fake.generation++;
    await c.startTransientUnit('b.slice', []);
    expect(fake.members('Subscribe')).toHaveLength(2);
    expect(fake.members('AddMatch')).toHaveLength(2);
  });

  it('a JobRemoved that arrives before the reply is not lost', async () => {
    const fake = new FakeSystemd({ signalFirst: true });
    const c = new SystemdClient(fake, { jobTimeoutMs: 500 });
    await c.startTransientUnit('a.slice', []);
    await c.stopUnit('a.slice');
    expect(fake.units.size).toBe(0);
  });

  it('a job that does not end "done" fails with its result', async () => {
    const fake = new FakeSystemd({ jobResult: () => 'failed' });
    const c = new SystemdClient(fake);
    const e = await c.startTransientUnit('a.scope', []).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(SystemdError);
    expect((e as SystemdError).code).toBe('job:failed');
    expect((e as Error).message).toMatch(/start a\.scope: systemd job ended "failed"/);
  });

  it('D-Bus errors keep their name; stopping an unknown unit is fine', async () => {
    const fake = new FakeSystemd();
    const c = new SystemdClient(fake);
    await c.startTransientUnit('a.slice', []);
    const e = await c.startTransientUnit('a.slice', []).catch((x: unknown) => x);
    expect((e as SystemdError).code).toBe('org.freedesktop.systemd1.UnitExists');
    await expect(c.stopUnit('never.slice')).resolves.toBeUndefined();
  });

  it('a job systemd never finishes times out', async () => {
    const c = new SystemdClient(new FakeSystemd({ silent: true }), { jobTimeoutMs: 50 });
    await expect(c.startTransientUnit('a.slice', [])).rejects.toThrow(/no answer from systemd within 50 ms/);
  });

  it('reads the version and sets properties at runtime', async () => {
    const fake = new FakeSystemd({ version: '257' });
    const c = new SystemdClient(fake);
    expect(await c.version()).toBe('257');
    await c.startTransientUnit('a.slice', []);
    await c.setUnitProperties('a.slice', slice);
    expect(fake.members('SetUnitProperties')[0]!.body?.slice(0, 2)).toEqual(['a.slice', true]);
    c.close();
    expect(fake.closed).toBe(true);
  });
});

describe('systemdHostProblem', () => {
  it('needs systemd as init and the system bus socket', () => {
    const d = mkdtempSync(join(tmpdir(), 'bh-sd-'));
    expect(systemdHostProblem(join(d, 'run-systemd'), join(d, 'bus'))).toMatch(/not the init system/);
    mkdirSync(join(d, 'run-systemd'));
    expect(systemdHostProblem(join(d, 'run-systemd'), join(d, 'bus'))).toMatch(/system bus is not running/);
    writeFileSync(join(d, 'bus'), '');
    expect(systemdHostProblem(join(d, 'run-systemd'), join(d, 'bus'))).toBeUndefined();
  });
});
