// The daemon's configuration: one zod schema holds the embedded defaults, the types and the
// validation (unknown keys and wrong types are errors, each reported with its key path).
import { z } from 'zod';
import { LOG_LEVELS } from '../log/logger.js';

const absPath = z.string().min(1).refine((p) => p.startsWith('/'), 'must be an absolute path');

const ociHandler = z
  .object({
    kind: z.literal('oci'),
    /** OCI runtime binary (name looked up in PATH, or absolute path). */
    runtime_path: z.string().min(1).default('runc'),
    /** Per-container monitor (conmon) binary. */
    monitor_path: z.string().min(1).default('conmon'),
    /** Extra root dir passed to the OCI runtime as --root (state of runc). Default: <state>/runtimes/<handler>. */
    runtime_root: absPath.optional(),
  })
  .strict();

const vmHandler = z
  .object({
    kind: z.literal('vm'),
    qemu_path: z.string().min(1).default('qemu-system-x86_64'),
    /** auto: KVM when the CPU has VT-x/AMD-V and /dev/kvm works, TCG otherwise. */
    accelerator: z.enum(['auto', 'kvm', 'tcg']).default('auto'),
    /** Guest kernel (PVH vmlinux). Default: the one the guest image build puts under <root>/guest. */
    kernel_path: absPath.optional(),
    /**
     * Guest memory (MiB) before the pod's memory limit is added (the guest's own base: kernel, agent,
     * tmpfs), and the vCPUs of a pod without a CPU limit (pkg/runtime/vm/vm-size.ts).
     */
    memory_mib: z.number().int().min(64).max(1 << 20).default(128),
    vcpus: z.number().int().min(1).max(256).default(1),
    /** Where the guest image is built and cached (<dir>/guest/<stamp>). Default: the daemon root. */
    guest_root: absPath.optional(),
    /**
     * A guest image built beforehand (deploy/guest/build-guest.sh's output dir: manifest.json, vmlinux,
     * initrd.cpio, rootfs.erofs), used as is: no build at daemon start. For nodes that cannot run the
     * build (no apt or Debian package database, e.g. a kind node image, which ships one built on the
     * image's build host).
     */
    guest_image: absPath.optional(),
    /** Pre-booted pod-less VMs kept ready (0 disables the pool). */
    pool_size: z.number().int().min(0).max(64).default(0),
    /**
     * Size of the pool's VMs (default: memory_mib and vcpus, i.e. pods without limits). A pod whose
     * own size (vm-size.ts) fits in both takes a pooled VM, a bigger one boots cold.
     */
    pool_memory_mib: z.number().int().min(64).max(1 << 20).optional(),
    pool_vcpus: z.number().int().min(1).max(256).optional(),
    /**
     * TCG only: QEMU's translation-block cache per VM (MiB, `-accel tcg,tb-size=`); 0 = QEMU's
     * default (much larger). docs/microvm.md: 64 saves ~30 MB RSS per VM for ~30 % slower warm
     * guest code; 32 saves ~70 MB but doubles it and slows boot. Ignored under KVM.
     */
    tcg_tb_size_mib: z.number().int().min(0).max(4096).default(64),
    /**
     * Extra guest kernel command-line words, space-separated (Kata's kernel_params); words that
     * override Bulkhead's own keys or the boot path make the handler unavailable (pkg/vm/qemu-args.ts).
     */
    kernel_params: z.string().max(1024).optional(),
    /**
     * How pod VMs start. boot: every VM boots its kernel (4.3-6 s to the agent under TCG). snapshot:
     * one VM per guest size is booted until its agent answers and saved (a "template", cached under
     * the guest root), and each pod VM is restored from it (0.2-0.5 s to the agent under TCG), its
     * CRNG reseeded and clock set; QEMU >= 9.0 and the Rust virtiofsd are required, else the handler
     * boots and Status says why. auto (the default): snapshot where supported, boot elsewhere
     * (deploy/install.sh and the test setup install what snapshot start needs: deploy/vm-tools.sh).
     */
    start_from: z.enum(['auto', 'boot', 'snapshot']).default('auto'),
    /** virtiofsd binary. Default: QEMU 7.2's /usr/lib/qemu/virtiofsd, else the Rust one (pkg/vm/virtiofsd.ts). */
    virtiofsd_path: absPath.optional(),
  })
  .strict();

export const handlerSchema = z.discriminatedUnion('kind', [ociHandler, vmHandler]);

export const configSchema = z
  .object({
    /** Persistent data: images, snapshots, pod/container metadata. */
    root: absPath.default('/var/lib/bulkhead'),
    /** Runtime state that dies with the host: sockets, pinned namespaces, runc state. */
    state: absPath.default('/run/bulkhead'),
    /** CRI gRPC unix socket. */
    address: absPath.default('/run/bulkhead/bulkhead.sock'),
    log_level: z.enum(LOG_LEVELS).default('info'),
    registry: z
      .object({
        /** containerd-style certs.d directory: <dir>/<host>/hosts.toml. */
        config_path: absPath.default('/etc/bulkhead/certs.d'),
        max_concurrent_downloads: z.number().int().min(1).max(64).default(4),
        /** A pull that receives no bytes for this long fails. */
        progress_timeout_seconds: z.number().int().min(1).max(3600).default(60),
        /** Tar-bomb bounds per layer: bytes of the uncompressed tar stream (headers, padding, skipped payloads included) and number of entries. */
        max_layer_unpack_bytes: z.number().int().min(1).default(64 * 2 ** 30),
        max_layer_entries: z.number().int().min(1).default(2_000_000),
        /** Images reported pinned (kubelet's image GC never removes them), as containerd's pinned_images. */
        pinned_images: z.array(z.string().min(1)).default([]),
      })
      .strict()
      .default({}),
    cni: z
      .object({
        conf_dir: absPath.default('/etc/cni/net.d'),
        bin_dirs: z.array(absPath).min(1).default(['/opt/cni/bin', '/usr/lib/cni']),
        /** Rendered into conf_dir with kubelet's pod CIDR (pkg/network/pod-cidr.ts), as containerd's conf_template. */
        conf_template: absPath.optional(),
      })
      .strict()
      .default({}),
    cdi: z
      .object({
        /** CDI spec dirs, lowest precedence first (the CDI default: /var/run/cdi overrides /etc/cdi). */
        spec_dirs: z.array(absPath).default(['/etc/cdi', '/var/run/cdi']),
      })
      .strict()
      .default({}),
    streaming: z
      .object({
        address: z.string().min(1).default('127.0.0.1'),
        /** 0 picks a free port at start-up. */
        port: z.number().int().min(0).max(65535).default(0),
        token_ttl_seconds: z.number().int().min(1).max(3600).default(60),
      })
      .strict()
      .default({}),
    metrics: z
      .object({
        /** host:port (or [v6]:port, :port) for the Prometheus /metrics endpoint; empty disables it. */
        address: z
          .string()
          .regex(/^$|^(\[[0-9a-fA-F:.]+\]|[^:[\]]*):\d{1,5}$/, 'expected "host:port", "[ipv6]:port", ":port" or "" (off)')
          .default(''),
      })
      .strict()
      .default({}),
    /**
     * Who makes pod and container cgroups: "cgroupfs" (Bulkhead and runc write the tree) or
     * "systemd" (slices and scopes over D-Bus; systemd must be init). Must match kubelet's cgroupDriver.
     */
    cgroup_driver: z.enum(['cgroupfs', 'systemd']).default('cgroupfs'),
    /** Handler used when the pod names none (empty RuntimeClass handler). */
    default_runtime_handler: z.string().min(1).default('runc'),
    runtime_handlers: z
      .record(z.string().regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'handler names are DNS labels'), handlerSchema)
      .default({
        runc: { kind: 'oci', runtime_path: 'runc', monitor_path: 'conmon' },
        crun: { kind: 'oci', runtime_path: 'crun', monitor_path: 'conmon' },
        microvm: { kind: 'vm', qemu_path: 'qemu-system-x86_64', accelerator: 'auto', memory_mib: 128, vcpus: 1, pool_size: 0, tcg_tb_size_mib: 64 },
      }),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (!(c.default_runtime_handler in c.runtime_handlers)) {
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['default_runtime_handler'],
        message: `names handler "${c.default_runtime_handler}", which runtime_handlers does not define`,
      });
    }
  });

export type Config = z.infer<typeof configSchema>;
export type HandlerConfig = z.infer<typeof handlerSchema>;
export type OciHandlerConfig = z.infer<typeof ociHandler>;
export type VmHandlerConfig = z.infer<typeof vmHandler>;
