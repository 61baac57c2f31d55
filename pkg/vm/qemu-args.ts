// The QEMU microvm command line of a pod VM (measured in docs/microvm.md: PVH vmlinux, virtio-mmio
// non-legacy, ACPI and RTC on, tsc_early_khz under TCG, virtio-serial agent port, virtio-blk disks
// found by serial in the guest, tap networking without vhost).
import type { Accel } from './accelerator.js';
import type { QemuRunAs } from './qemu-privileges.js';

export interface VmDisk {
  /** virtio-blk serial the guest finds the disk by (max 20 bytes). */
  serial: string;
  path: string;
  readonly: boolean;
}

export interface VmNic {
  tap: string;
  mac: string;
}

export interface QemuSpec {
  name: string;
  accel: Accel;
  /** TCG translation cache size (MiB); undefined or 0: QEMU's default. */
  tcgTbSizeMib?: number;
  memoryMib: number;
  vcpus: number;
  kernel: string;
  initrd: string;
  rootfs: string;
  disks: VmDisk[];
  nics: VmNic[];
  agentSocket: string;
  qmpSocket: string;
  consoleLog: string;
  pidFile: string;
  tscKhz?: number;
  /** virtio-fs share served by a virtiofsd listening on socket (needs shared guest memory: memfd). */
  sharedFs?: { socket: string; tag: string };
  /** Snapshot start: QEMU waits for migrate-incoming instead of running the guest (pkg/vm/vm-state-file.ts). */
  incoming?: boolean;
  /** Inherited fds QEMU adds to fd sets (-add-fd), e.g. the VM state file as file:/dev/fdset/<set>. */
  addFds?: { fd: number; set: number }[];
  /** Extra kernel command-line words. */
  extraCmdline?: string[];
  /**
   * Unprivileged uid:gid QEMU switches to once its devices, sockets and files are open (-runas): the
   * rest of its life, guest-facing device emulation included, runs without root or any capability.
   */
  runAs?: QemuRunAs;
}

const BASE_CMDLINE = [
  'console=ttyS0',
  'panic=1',
  'quiet',
  'tsc=reliable',
  'no_timer_check',
  'cryptomgr.notests',
  'reboot=k',
  'i8042.noaux',
  'i8042.nomux',
  'i8042.nopnp',
  'i8042.dumbkbd',
  '8250.nr_uarts=1',
  'mitigations=off',
  'nokaslr',
  'random.trust_cpu=on',
  'initcall_blacklist=init_kprobe_trace,crypto_kdf108_init',
  'pci=off',
];

/** The keys of BASE_CMDLINE plus what Bulkhead adds itself (tsc_early_khz under TCG). */
const OWN_KEYS = new Set([...BASE_CMDLINE.map((w) => w.split('=')[0]!), 'tsc_early_khz']);
/**
 * Keys an operator's kernel_params may not set either: they would choose what runs as PID 1 or where
 * the root comes from (the guest init finds its disk and agent port itself), or end the kernel's
 * options ("--": the rest goes to init as arguments).
 */
const REFUSED_KEYS = new Set(['init', 'rdinit', 'root', 'rootfstype', 'rootflags', 'nfsroot', 'ip', 'initrd', 'noinitrd', 'retain_initrd', 'modules']);

/**
 * Splits a handler's kernel_params (a root-owned config string, like Kata's kernel_params) into
 * cmdline words, refusing any that would override Bulkhead's own cmdline keys or its boot path,
 * and any the kernel would split or quote differently (only key or key=value of plain characters).
 */
export function kernelParamWords(params: string | undefined): string[] {
  const words = (params ?? '').split(/\s+/).filter(Boolean);
  for (const w of words) {
    if (!/^[A-Za-z0-9_.-]+(=[A-Za-z0-9_.,:/+=-]*)?$/.test(w)) throw new Error(`kernel_params word "${w}": only key or key=value of letters, digits and _.,:/+=- are allowed`);
    if (w.startsWith('-')) throw new Error(`kernel_params word "${w}": "--" would end the kernel's options (the rest goes to init)`);
    // The kernel reads '-' and '_' in parameter names alike.
    const key = w.split('=')[0]!.replaceAll('-', '_');
    if (OWN_KEYS.has(key)) throw new Error(`kernel_params word "${w}" overrides Bulkhead's own "${key}"`);
    if (REFUSED_KEYS.has(key)) throw new Error(`kernel_params word "${w}" would change the guest's boot path ("${key}")`);
  }
  return words;
}

export function kernelCmdline(spec: Pick<QemuSpec, 'tscKhz' | 'extraCmdline'>): string {
  const words = [...BASE_CMDLINE];
  if (spec.tscKhz) words.splice(2, 0, `tsc_early_khz=${spec.tscKhz}`);
  return [...words, ...(spec.extraCmdline ?? [])].join(' ');
}

/** QEMU's -drive/-chardev option values use ',' as separator: a path with one must be doubled. */
function opt(v: string): string {
  return v.replaceAll(',', ',,');
}

/**
 * The machine the pod VMs run. A saved VM restores only into the same machine, so it is part of the
 * snapshot templates' key (pkg/runtime/vm/vm-template.ts).
 */
export const MICROVM_MACHINE = 'microvm,x-option-roms=off';
/**
 * qboot, QEMU's minimal firmware, by name (found in QEMU's data dir). It is what Debian 12's QEMU 7.2
 * boots microvm with (its bios-microvm.bin links to it); bookworm-backports' QEMU 10 takes SeaBIOS
 * 1.16.3's bios-microvm.bin instead, which finds no PVH kernel without option ROMs ("No bootable
 * device"), and with option ROMs the guest stalls in early boot under -sandbox spawn=deny.
 */
export const MICROVM_FIRMWARE = 'qboot.rom';

export function qemuArgs(s: QemuSpec): string[] {
  const serialOk = (x: string): boolean => /^[A-Za-z0-9_.-]{1,20}$/.test(x);
  for (const d of s.disks) if (!serialOk(d.serial) || d.serial === 'bulkhead-root') throw new Error(`bad disk serial ${d.serial}`);
  if (s.runAs && ![s.runAs.uid, s.runAs.gid].every((id) => Number.isInteger(id) && id > 0 && id < 0xffffffff)) {
    throw new Error(`bad QEMU uid:gid ${s.runAs.uid}:${s.runAs.gid}`);
  }
  const args = [
    '-name', `${s.name},debug-threads=off`,
    ...(s.accel === 'kvm' ? ['-accel', 'kvm', '-cpu', 'host'] : ['-accel', s.tcgTbSizeMib ? `tcg,tb-size=${s.tcgTbSizeMib}` : 'tcg', '-cpu', 'max']),
    '-m', String(s.memoryMib),
    '-smp', String(s.vcpus),
    '-M', s.sharedFs ? `${MICROVM_MACHINE},memory-backend=mem` : MICROVM_MACHINE,
    '-bios', MICROVM_FIRMWARE,
    ...(s.sharedFs ? ['-object', `memory-backend-memfd,id=mem,size=${s.memoryMib}M,share=on`] : []),
    '-global', 'virtio-mmio.force-legacy=false',
    '-nographic', '-nodefaults', '-no-user-config', '-no-reboot',
    // seccomp: with -runas the set*id calls must stay allowed for QEMU's own switch (deny kills it
    // with SIGSYS); afterwards it holds no CAP_SETUID, so it can't regain root either way.
    '-sandbox', `on,obsolete=deny,elevateprivileges=${s.runAs ? 'allow' : 'deny'},spawn=deny,resourcecontrol=deny`,
    ...(s.runAs ? (s.runAs.option === '-run-with' ? ['-run-with', `user=${s.runAs.uid}:${s.runAs.gid}`] : ['-runas', `${s.runAs.uid}:${s.runAs.gid}`]) : []),
    // append=on (O_APPEND): the daemon keeps the console a bounded ring by copy-truncate
    // (pkg/vm/console-log.ts); with QEMU's default O_TRUNC offset its next write would land past the cut.
    '-chardev', `file,id=console,path=${opt(s.consoleLog)},append=on`,
    '-serial', 'chardev:console',
    '-pidfile', s.pidFile,
    '-qmp', `unix:${opt(s.qmpSocket)},server=on,wait=off`,
    '-kernel', s.kernel,
    '-initrd', s.initrd,
    '-append', kernelCmdline(s),
    '-drive', `id=root,file=${opt(s.rootfs)},format=raw,if=none,readonly=on`,
    '-device', 'virtio-blk-device,drive=root,serial=bulkhead-root',
  ];
  s.disks.forEach((d, i) => {
    args.push('-drive', `id=d${i},file=${opt(d.path)},format=raw,if=none,readonly=${d.readonly ? 'on' : 'off'}`);
    args.push('-device', `virtio-blk-device,drive=d${i},serial=${d.serial}`);
  });
  args.push(
    '-device', 'virtio-serial-device',
    '-chardev', `socket,id=agent,path=${opt(s.agentSocket)},server=on,wait=off`,
    '-device', 'virtserialport,chardev=agent,name=agent',
  );
  if (s.sharedFs) {
    args.push('-chardev', `socket,id=vfs,path=${opt(s.sharedFs.socket)}`);
    args.push('-device', `vhost-user-fs-device,chardev=vfs,tag=${s.sharedFs.tag}`);
  }
  s.nics.forEach((n, i) => {
    if (!/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i.test(n.mac)) throw new Error(`bad MAC ${n.mac}`);
    args.push('-netdev', `tap,id=n${i},ifname=${n.tap},script=no,downscript=no,vhost=off`);
    args.push('-device', `virtio-net-device,netdev=n${i},mac=${n.mac}`);
  });
  for (const f of s.addFds ?? []) args.push('-add-fd', `fd=${f.fd},set=${f.set}`);
  if (s.incoming) args.push('-incoming', 'defer');
  return args;
}
