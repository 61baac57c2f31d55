// Snapshot start's templates: one VM per (handler settings, guest size) booted until its agent
// answers Hello, then saved to <guest root>/vm-templates/<key>/{state,meta.json}. Pod VMs are
// restored from it (snapshot-start.ts). The key hashes everything the saved state depends on (guest
// image stamp, QEMU version, accelerator, memory, vCPUs, kernel and its params): when any changes the
// key does, a new template is made on first need and the stale ones are pruned.
// The template is saved before SetupSandbox, i.e. before the guest mounts its virtio-fs share: a
// restored VM then mounts its own pod's share from a fresh virtiofsd (QEMU 10 + Rust virtiofsd
// measured: a template that had mounted its share cannot).
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { createPodNamespaces, removePodNamespaces } from '../../network/namespaces.js';
import { releaseShortSocketDir } from '../../vm/socket-dir.js';
import { hasMappedRam, saveVmState } from '../../vm/vm-state-file.js';
import { createTap } from './tap-network.js';
import { releaseGuestShare } from './guest-share.js';
import type { BootedVm, BootRequest } from './vm-booter.js';

export interface TemplateMeta {
  key: string;
  /** Hash of everything but the memory size: templates of another base are stale. */
  base: string;
  guestStamp: string;
  qemuVersion: string;
  memoryMib: number;
  mappedRam: boolean;
  mac: string;
  /** Spawn to Hello of the template boot, and the save itself (ms). */
  bootMs: number;
  saveMs: number;
  savedAt: string;
}

export interface VmTemplate {
  stateFile: string;
  meta: TemplateMeta;
}

/** What the saved state depends on besides the memory size (see the file comment). */
export interface TemplateBase {
  /** QEMU's -M and -bios values (the firmware and option ROMs are part of the saved RAM). */
  machine: string;
  guestStamp: string;
  qemuVersion: string;
  accel: string;
  vcpus: number;
  tcgTbSizeMib: number;
  kernel: string;
  kernelParams: string[];
}

export function templateBaseHash(b: TemplateBase): string {
  return createHash('sha256').update(JSON.stringify([b.machine, b.guestStamp, b.qemuVersion, b.accel, b.vcpus, b.tcgTbSizeMib, b.kernel, b.kernelParams])).digest('hex').slice(0, 16);
}

export function templateKey(base: string, memoryMib: number): string {
  return `${base}-${memoryMib}m`;
}

/** How a template VM is booted (VmBooter.boot: the same command line a restored VM gets). */
export type TemplateBooter = (r: BootRequest) => Promise<BootedVm>;

/**
 * Guest sizes saved per base. A template holds the guest pages touched by its boot (114 MB allocated
 * for a 256 MiB TCG guest, measured) and pods come in as many sizes as their memory limits: 4 sizes
 * bound the disk to ~0.5 GB per base. Sizes past the first 4 boot (as without snapshot start).
 */
export const MAX_TEMPLATES_PER_BASE = 4;

export class VmTemplates {
  private readonly making = new Map<string, Promise<VmTemplate>>();

  constructor(
    /** <guest root>/vm-templates: shared by daemons using the same guest root (keys say what they hold). */
    private readonly dir: string,
    /** Where template VMs run while being made (sockets, netns): <state>/vm-template. */
    private readonly runDir: string,
    private readonly boot: TemplateBooter,
    private readonly log: Logger,
  ) {}

  /**
   * The template for this base and size, made now if there is none. Concurrent callers share one.
   * Undefined when MAX_TEMPLATES_PER_BASE other sizes are saved or being made: that VM boots.
   */
  get(base: TemplateBase, memoryMib: number, max = MAX_TEMPLATES_PER_BASE): Promise<VmTemplate | undefined> {
    const baseHash = templateBaseHash(base);
    const key = templateKey(baseHash, memoryMib);
    const have = readTemplate(join(this.dir, key));
    if (have) return Promise.resolve(have);
    let p = this.making.get(key);
    if (!p) {
      if (this.sizesOf(baseHash) >= max) return Promise.resolve(undefined);
      p = this.make(base, baseHash, key, memoryMib).finally(() => this.making.delete(key));
      this.making.set(key, p);
    }
    return p;
  }

  /** Sizes of this base saved (by any daemon sharing the directory) or being made here. */
  private sizesOf(baseHash: string): number {
    const keys = new Set([...this.making.keys()].filter((k) => k.startsWith(`${baseHash}-`)));
    if (existsSync(this.dir)) for (const name of readdirSync(this.dir)) if (name.startsWith(`${baseHash}-`)) keys.add(name);
    return keys.size;
  }

  /** A template a restore failed from: removed, so the next pod makes a new one. */
  async discard(t: VmTemplate): Promise<void> {
    this.log.warn({ template: t.meta.key }, 'discarding VM template');
    await rm(join(this.dir, t.meta.key), { recursive: true, force: true });
  }

  private async make(base: TemplateBase, baseHash: string, key: string, memoryMib: number): Promise<VmTemplate> {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const tmp = join(this.dir, `.tmp-${key}-${randomBytes(4).toString('hex')}`);
    const slot = join(this.runDir, randomBytes(6).toString('hex'));
    const vmDir = join(slot, 'vm');
    mkdirSync(tmp, { mode: 0o700 });
    mkdirSync(vmDir, { recursive: true, mode: 0o700 });
    const mac = `52:54:00:${randomBytes(3).toString('hex').match(/../g)!.join(':')}`;
    const stateFile = join(tmp, 'state');
    let netns: string | undefined;
    let b: BootedVm | undefined;
    this.log.info({ template: key, memoryMib }, 'making a VM template (boot once, save)');
    try {
      const ns = await createPodNamespaces({ dir: join(slot, 'ns'), net: true, ipc: false, uts: false, sysctls: {} });
      netns = ns.net!;
      await createTap(netns);
      b = await this.boot({ name: `bulkhead-template-${key.slice(0, 8)}`, vmDir, netns, memoryMib, cgroupProcs: [], log: this.log, state: { mode: 'save', path: stateFile, mac, mappedRam: false } });
      // The guest agent waits for a host again once the channel closes: that is the state saved.
      b.vm.agent.close();
      const mappedRam = await hasMappedRam(b.vm.qmp);
      const t0 = performance.now();
      await saveVmState(b.vm.qmp, { mappedRam });
      const saveMs = Math.round(performance.now() - t0);
      const meta: TemplateMeta = { key, base: baseHash, guestStamp: base.guestStamp, qemuVersion: base.qemuVersion, memoryMib, mappedRam, mac, bootMs: b.readyMs, saveMs, savedAt: new Date().toISOString() };
      writeFileSync(join(tmp, 'meta.json'), JSON.stringify(meta));
      const final = join(this.dir, key);
      try {
        renameSync(tmp, final);
      } catch {
        // Another daemon sharing the guest root saved the same key first: use theirs.
        await rm(tmp, { recursive: true, force: true });
      }
      const t = readTemplate(final);
      if (!t) throw new Error(`VM template ${key} vanished after saving`);
      this.log.info({ template: key, mappedRam, bootMs: b.readyMs, saveMs, stateBytes: statSync(t.stateFile).size, allocatedBytes: statSync(t.stateFile).blocks * 512 }, 'VM template saved');
      await this.prune(baseHash);
      return t;
    } finally {
      if (b) {
        b.vm.kill();
        b.vfs.kill();
        await b.vm.exited;
        releaseGuestShare(vmDir);
      }
      releaseShortSocketDir(vmDir);
      if (netns) await removePodNamespaces({ net: netns }).catch(() => undefined); // cleanup after a failed template boot; that failure is reported
      await rm(slot, { recursive: true, force: true });
      await rm(tmp, { recursive: true, force: true });
    }
  }

  /** Removes templates of another base (older guest image, QEMU, settings). */
  private async prune(baseHash: string): Promise<void> {
    for (const name of readdirSync(this.dir)) {
      if (name.startsWith('.') || name.startsWith(`${baseHash}-`)) continue;
      this.log.info({ template: name }, 'removing stale VM template');
      await rm(join(this.dir, name), { recursive: true, force: true });
    }
  }
}

function readTemplate(dir: string): VmTemplate | undefined {
  const stateFile = join(dir, 'state');
  try {
    if (!existsSync(stateFile)) return undefined;
    return { stateFile, meta: JSON.parse(readFileSync(join(dir, 'meta.json'), 'utf8')) as TemplateMeta };
  } catch {
    return undefined;
  }
}
