import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { pino } from 'pino';
import type { SandboxRecord } from '../../store/records.js';
import { checkPodCgroupFits, fitsPodCgroup, PodCgroupTooSmallError, QEMU_DEFAULT_TB_MIB, VMM_OVERHEAD_MIB, vmmOverheadMib, vmNeedBytes } from './vm-fit.js';
import { vmRuntimeForTest } from '../../../test/fakes/vm-tasks.js';

const MiB = 1 << 20;
const base = { handler: 'microvm', cgroup: '/kubepods/burstable/pod1', vmmMib: vmmOverheadMib('tcg', 64), criOverheadBytes: 0 };

describe('VMM overhead', () => {
  it('counts the TCG translation cache on top of the VMM constant, and QEMU\'s 1 GiB default for tb-size 0', () => {
    expect(vmmOverheadMib('kvm', 64)).toBe(VMM_OVERHEAD_MIB);
    expect(vmmOverheadMib('tcg', 64)).toBe(VMM_OVERHEAD_MIB + 64);
    expect(vmmOverheadMib('tcg', 0)).toBe(VMM_OVERHEAD_MIB + QEMU_DEFAULT_TB_MIB);
  });
});

describe('checkPodCgroupFits', () => {
  it('the conformance case: 64Mi limit, no RuntimeClass overhead → failed-precondition naming every figure', () => {
    const size = { vcpus: 1, memoryMib: 128 + 64 };
    const e = (() => {
      try {
        checkPodCgroupFits({ ...base, limitBytes: 64 * MiB, size });
      } catch (x) {
        return x as PodCgroupTooSmallError;
      }
      return undefined;
    })();
    expect(e).toBeInstanceOf(PodCgroupTooSmallError);
    expect(e!.kind).toBe('failed-precondition');
    const need = 192 + VMM_OVERHEAD_MIB + 64;
    expect(e!.message).toContain('memory limit of 64 MiB');
    expect(e!.message).toContain(`needs ${need} MiB (192 MiB guest RAM + ${VMM_OVERHEAD_MIB + 64} MiB for QEMU and virtiofsd)`);
    // The containers' 64 MiB are in the cgroup already: the overhead must cover the guest base and the VMM.
    expect(e!.message).toContain(`overhead.podFixed.memory to at least ${need - 64}Mi`);
    expect(e!.needBytes).toBe(need * MiB);
  });

  it('subtracts the RuntimeClass overhead kubelet reported from the limit to find the containers\' share', () => {
    const size = { vcpus: 1, memoryMib: 256 + 300 };
    expect(() => checkPodCgroupFits({ ...base, limitBytes: (300 + 320) * MiB, size, criOverheadBytes: 320 * MiB })).toThrow(/containers' limits 300 MiB, RuntimeClass overhead 320 MiB per the CRI request\).*at least 368Mi/);
  });

  it('takes the containers\' share from the CRI resources when kubelet sent them (an overhead it did not report is then still counted)', () => {
    const size = { vcpus: 1, memoryMib: 256 + 300 };
    // RuntimeClass overhead 100Mi in the cgroup, but not in the request: the overhead must still reach 368Mi in total.
    expect(() => checkPodCgroupFits({ ...base, limitBytes: 400 * MiB, size, criLimitsBytes: 300 * MiB })).toThrow(/containers' limits 300 MiB, RuntimeClass overhead 0 MiB per the CRI request\).*at least 368Mi/);
  });

  it('passes at exactly guest RAM + VMM overhead, and without a limit', () => {
    const size = { vcpus: 1, memoryMib: 192 };
    expect(() => checkPodCgroupFits({ ...base, limitBytes: vmNeedBytes(size, base.vmmMib), size })).not.toThrow();
    expect(() => checkPodCgroupFits({ ...base, limitBytes: vmNeedBytes(size, base.vmmMib) - 1, size })).toThrow(PodCgroupTooSmallError);
    expect(() => checkPodCgroupFits({ ...base, limitBytes: undefined, size })).not.toThrow();
  });

  it('a bigger warm-pool VM may not fit where the pod\'s own does', () => {
    const limitBytes = vmNeedBytes({ vcpus: 1, memoryMib: 200 }, base.vmmMib);
    expect(fitsPodCgroup({ limitBytes, size: { vcpus: 1, memoryMib: 200 }, vmmMib: base.vmmMib })).toBe(true);
    expect(fitsPodCgroup({ limitBytes, size: { vcpus: 2, memoryMib: 640 }, vmmMib: base.vmmMib })).toBe(false);
  });
});

describe('VmPodController.startSandbox against the pod cgroup', () => {
  let dir = '';
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const setup = (limit: number | undefined) => {
    dir = mkdtempSync(join(tmpdir(), 'bulkhead-vm-fit-'));
    const asked: string[] = [];
    const rt = vmRuntimeForTest(dir, { podMemoryLimit: (cg) => (asked.push(cg), limit) });
    const sb = {
      id: 'a'.repeat(64),
      stateDir: join(dir, 'pods', 'p1'),
      cgroupParent: 'kubepods-burstable-pod1.slice',
      cgroupOwned: false,
      namespaces: {},
      config: { linux: { resources: { memory_limit_in_bytes: String(64 * MiB) }, overhead: null } },
    } as unknown as SandboxRecord;
    return { rt, sb, asked };
  };

  it('refuses before making anything: no state dir, no guest image, no namespaces', async () => {
    const { rt, sb, asked } = setup(64 * MiB);
    const guest = vi.spyOn(rt.controller, 'guestImage');
    await expect(rt.controller.startSandbox(sb, pino({ level: 'silent' }))).rejects.toThrow(PodCgroupTooSmallError);
    expect(asked).toEqual(['/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1.slice']);
    expect(guest).not.toHaveBeenCalled();
    expect(existsSync(sb.stateDir)).toBe(false);
    expect(sb.namespaces.net).toBeUndefined();
  });

  it('goes on when the cgroup holds the VM, or sets no limit', async () => {
    for (const limit of [(128 + 64 + VMM_OVERHEAD_MIB + 64) * MiB, undefined]) {
      const { rt, sb } = setup(limit);
      vi.spyOn(rt.controller, 'guestImage').mockRejectedValue(new Error('past the check'));
      await expect(rt.controller.startSandbox(sb, pino({ level: 'silent' }))).rejects.toThrow('past the check');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
