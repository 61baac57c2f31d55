// How a handler's pod VMs start: booting the kernel (VmBooter.boot), or restoring a saved template
// (vm-template.ts) and making the clone its own: a CRNG reseed from host entropy and the host's time
// (the template's clock stopped when it was saved). Chosen once at start-up from the handler's
// start_from and what its QEMU and virtiofsd can do (pkg/vm/snapshot-support.ts); a template that
// cannot be made turns the handler to booting for the daemon's life, a restore that fails discards
// its template and boots that VM. Under TCG a restore reaches the agent in 0.2-0.5 s, a boot in 4.3-6 s.
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { VmHandlerConfig } from '../../config/schema.js';
import { detectSnapshotSupport } from '../../vm/snapshot-support.js';
import { MICROVM_FIRMWARE, MICROVM_MACHINE } from '../../vm/qemu-args.js';
import type { MicroVm } from '../../vm/micro-vm.js';
import { AgentFeature } from '../../vmchannel/protocol.js';
import { VmTemplates, type TemplateBase } from './vm-template.js';
import type { BootedVm, BootRequest, VmBooter } from './vm-booter.js';

export type StartFrom = 'boot' | 'snapshot';

/** A started VM and how it started (for the pod's log line and the metrics of the caller). */
export interface StartedVm extends BootedVm {
  startedFrom: StartFrom;
}

/** The two clone fix-ups are one small RPC each: 10 s covers a loaded TCG guest. */
const FIXUP_TIMEOUT_MS = 10_000;
/** Host entropy credited to the guest pool: 64 bytes = 512 bits, twice the CRNG key. */
const RESEED_BYTES = 64;

export class VmStarter {
  private from: StartFrom;
  private why: string;
  private qemuVersion = '';
  private readonly templates: VmTemplates;

  constructor(
    private readonly config: VmHandlerConfig,
    private readonly booter: VmBooter,
    /** The handler's guest root (templates: <root>/vm-templates) and the daemon state dir. */
    dirs: { root: string; state: string; handler: string },
    private readonly log: Logger,
  ) {
    this.templates = new VmTemplates(join(dirs.root, 'vm-templates'), join(dirs.state, 'vm-template', dirs.handler), (r) => booter.boot(r), log);
    if (config.start_from === 'boot') {
      this.from = 'boot';
      this.why = 'start_from = "boot"';
    } else {
      const s = detectSnapshotSupport(config.qemu_path, booter.virtiofsdPath);
      this.qemuVersion = s.qemuVersion;
      this.from = s.ok ? 'snapshot' : 'boot';
      this.why = s.ok ? `QEMU ${s.qemuVersion} and ${booter.virtiofsdPath} can save and restore pod VMs` : s.reason;
    }
    const fields = { startFrom: this.from, configured: config.start_from, reason: this.why };
    if (config.start_from === 'snapshot' && this.from === 'boot') log.warn(fields, 'snapshot start unavailable: pod VMs boot');
    else log.info(fields, `pod VMs start from ${this.from === 'snapshot' ? 'a saved snapshot' : 'a kernel boot'}`);
  }

  get startFrom(): StartFrom {
    return this.from;
  }

  get reason(): string {
    return this.why;
  }

  async start(r: BootRequest): Promise<StartedVm> {
    // Templates are made with the handler's vCPU count; a pod sized to other vCPUs (vm-size.ts)
    // boots. One template per vCPU count would multiply the saved states (one per size already).
    const vcpus = r.vcpus ?? this.config.vcpus;
    if (this.from === 'boot' || vcpus !== this.config.vcpus) return { ...(await this.booter.boot(r)), startedFrom: 'boot' };
    let t;
    try {
      t = await this.templates.get(await this.base(), r.memoryMib);
    } catch (e) {
      this.from = 'boot';
      this.why = `making a VM template failed: ${(e as Error).message}`;
      this.log.error({ err: (e as Error).message }, 'VM template could not be made: pod VMs boot from now on');
      return { ...(await this.booter.boot(r)), startedFrom: 'boot' };
    }
    if (!t) {
      r.log.info({ memoryMib: r.memoryMib }, 'no VM template for this guest size (the saved sizes are at their limit): booting');
      return { ...(await this.booter.boot(r)), startedFrom: 'boot' };
    }
    let b: BootedVm;
    try {
      b = await this.booter.boot({ ...r, state: { mode: 'restore', path: t.stateFile, mac: t.meta.mac, mappedRam: t.meta.mappedRam } });
    } catch (e) {
      r.log.warn({ template: t.meta.key, err: (e as Error).message }, 'restoring the VM template failed: booting this VM');
      await this.templates.discard(t);
      return { ...(await this.booter.boot(r)), startedFrom: 'boot' };
    }
    const t0 = performance.now();
    try {
      await freshenClone(b.vm);
    } catch (e) {
      b.vm.kill();
      b.vfs.kill();
      await b.vm.exited;
      throw e;
    }
    r.log.info({ vmPid: b.vm.pid, template: t.meta.key, mappedRam: t.meta.mappedRam, restoreToAgentReadyMs: b.readyMs, fixupsMs: Math.round(performance.now() - t0) }, 'VM restored from its snapshot');
    return { ...b, startedFrom: 'snapshot' };
  }

  private async base(): Promise<TemplateBase> {
    const image = await this.booter.guestImage();
    return {
      machine: `${MICROVM_MACHINE} ${MICROVM_FIRMWARE}`,
      guestStamp: image.stamp,
      qemuVersion: this.qemuVersion,
      accel: this.booter.accel?.accel ?? 'none',
      vcpus: this.config.vcpus,
      tcgTbSizeMib: this.config.tcg_tb_size_mib,
      kernel: this.config.kernel_path ?? image.kernel,
      kernelParams: (this.config.kernel_params ?? '').split(/\s+/).filter(Boolean),
    };
  }
}

/**
 * What makes a restored clone its own: fresh CRNG state, the host's time. Each is a run of the guest
 * helper, i.e. a fork of the agent's Node process (0.1-0.3 s under TCG, ~1.5 s on a loaded host):
 * one run for both where the agent can (ReseedSetsTime), else both RPCs at once.
 */
async function freshenClone(vm: MicroVm): Promise<void> {
  const unixNs = String(BigInt(Date.now()) * 1_000_000n);
  if (vm.agent.supports(AgentFeature.ReseedSetsTime)) {
    await vm.agent.call('reseed_random', { entropy: randomBytes(RESEED_BYTES), set_time_unix_ns: unixNs }, { timeoutMs: FIXUP_TIMEOUT_MS });
    return;
  }
  await Promise.all([
    vm.agent.call('reseed_random', { entropy: randomBytes(RESEED_BYTES) }, { timeoutMs: FIXUP_TIMEOUT_MS }),
    vm.agent.call('set_guest_time', { unix_ns: unixNs }, { timeoutMs: FIXUP_TIMEOUT_MS }),
  ]);
}
