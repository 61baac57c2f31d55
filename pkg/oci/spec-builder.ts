// Builds the OCI runtime spec (config.json for runc) of a pod's container from its CRI config,
// the sandbox's namespaces and files, and the image config — following containerd's CRI plugin
// wherever the CRI leaves room for interpretation. Pure apart from reading the rootfs's
// /etc/passwd and /etc/group, the host's device nodes (privileged/devices) and seccomp files.
// Just over 400 lines: one function per spec section (process, mounts, namespaces, devices,
// resources, security) read top to bottom in the order runc applies them; the sections with
// policies of their own already live beside it (user.ts, mounts.ts, resources.ts, seccomp, apparmor).
import { hostname as osHostname } from 'node:os';
import type * as cri from '../api/cri-types.js';
import { failedPrecondition, invalidArgument } from '../errors/errors.js';
import { availableControllers, detectCgroupMode, isV2, type CgroupMode } from '../cgroups/detect.js';
import { parseSystemdCgroupsPath } from '../cgroups/systemd-names.js';
import { buildCapabilities } from './capabilities.js';
import { devicesFromCri, hostDevices } from './devices.js';
import { apparmorProfileFor, NO_APPARMOR, type AppArmorHost } from './apparmor.js';
import { checkSelinux } from './selinux.js';
import { criMounts, defaultMounts, mergeMounts, sandboxFileMounts } from './mounts.js';
import type { MountInfoReader } from './mount-propagation.js';
import { clampOomScoreAdj, resourcesFromCri } from './resources.js';
import { seccompForContainer } from './seccomp.js';
import { defaultSeccompProfile } from './seccomp-default.js';
import { OCI_VERSION, type OciDevice, type OciDeviceCgroupRule, type OciImageConfig, type OciMount, type OciNamespace, type OciSpec } from './spec-types.js';
import { resolveUser } from './user.js';
import { checkContainerUserNamespace, ociMappings, podUserNamespace, type PodUserNamespace } from './user-namespace.js';

export interface SandboxSpecInfo {
  id: string;
  config: cri.PodSandboxConfig__Output;
  /** paths of pinned namespaces to join; undefined = use the host's (hostNetwork etc) */
  netnsPath?: string;
  ipcnsPath?: string;
  utsnsPath?: string;
  /** /proc/<pid>/ns/pid of the pod's infra process when the pod has a pod-level PID namespace */
  pidnsPath?: string;
  /** the pod's pinned user namespace (userns_options mode POD); its mappings come from config */
  usernsPath?: string;
  /** pod cgroup path (cgroupfs form, e.g. /kubepods/besteffort/pod<uid>) */
  cgroupParent: string;
  /** files prepared by the sandbox */
  resolvConfPath?: string;
  hostnamePath?: string;
  hostsPath?: string;
  shmPath?: string;
}

export interface ContainerSpecInput {
  containerId: string;
  config: cri.ContainerConfig__Output;
  sandbox: SandboxSpecInfo;
  /** the image config's "config" object: User, Env, Entrypoint, Cmd, WorkingDir, StopSignal... */
  imageConfig: OciImageConfig;
  /** mounted overlay dir (already mounted by the caller) */
  rootfsPath: string;
  /** the container's cgroup: `${cgroupParent}/${id}` (cgroupfs) or `${slice}:bulkhead:${id}` (systemd) */
  cgroupsPath: string;
  /** lowest oom_score_adj the host allows */
  hostOomScoreAdjMin: number;
  /** for localhost seccomp profiles given as relative names */
  seccompProfileRoot?: string;
  /** pid of the target container's process, for namespace_options.pid == TARGET */
  targetPid?: number;
  /** defaults to detectCgroupMode() */
  cgroupMode?: CgroupMode;
  /** whether the hugetlb controller exists; defaults to availableControllers() */
  hugetlbAvailable?: boolean;
  /** image name for the io.kubernetes.cri.image-name annotation (defaults to config.image.image) */
  imageName?: string;
  /** SELinux enabled on the node (pkg/oci/selinux.ts); absent: false, labels accepted and not applied. */
  selinuxEnabled?: boolean;
  /** The node's AppArmor (pkg/oci/apparmor-host.ts); absent: none, profiles accepted and not applied. */
  apparmor?: AppArmorHost;
  /** test seams */
  devRoot?: string;
  readMountInfo?: MountInfoReader;
  allCapabilities?: string[];
}

/** containerd/moby defaults for unprivileged containers when the CRI sends none. */
export const DEFAULT_MASKED_PATHS: readonly string[] = [
  '/proc/acpi', '/proc/asound', '/proc/interrupts', '/proc/kcore', '/proc/keys', '/proc/latency_stats',
  '/proc/sched_debug', '/proc/scsi', '/proc/timer_list', '/proc/timer_stats', '/sys/devices/virtual/powercap',
  '/sys/firmware',
];
export const DEFAULT_READONLY_PATHS: readonly string[] = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

export const DEFAULT_PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export const ANNOTATIONS = {
  containerType: 'io.kubernetes.cri.container-type',
  sandboxId: 'io.kubernetes.cri.sandbox-id',
  sandboxName: 'io.kubernetes.cri.sandbox-name',
  sandboxNamespace: 'io.kubernetes.cri.sandbox-namespace',
  sandboxUid: 'io.kubernetes.cri.sandbox-uid',
  sandboxLogDir: 'io.kubernetes.cri.sandbox-log-directory',
  containerName: 'io.kubernetes.cri.container-name',
  imageName: 'io.kubernetes.cri.image-name',
} as const;

/** containerd's rule: CRI command replaces Entrypoint, CRI args replace Cmd (Cmd only used when neither is given). */
export function processArgs(config: Pick<cri.ContainerConfig__Output, 'command' | 'args'>, image: OciImageConfig): string[] {
  let command = config.command ?? [];
  let args = config.args ?? [];
  if (command.length === 0 && args.length === 0) args = image.Cmd ?? [];
  if (command.length === 0) command = image.Entrypoint ?? [];
  const all = [...command, ...args];
  if (all.length === 0) throw invalidArgument('no command specified: the container config and the image have neither command nor args');
  return all;
}

const envKey = (kv: string) => {
  const i = kv.indexOf('=');
  return i < 0 ? kv : kv.slice(0, i);
};

/** Later entries replace earlier ones with the same key, keeping the first position. */
export function mergeEnv(...lists: string[][]): string[] {
  const out: string[] = [];
  const index = new Map<string, number>();
  for (const list of lists) {
    for (const kv of list) {
      const key = envKey(kv);
      const at = index.get(key);
      if (at === undefined) {
        index.set(key, out.length);
        out.push(kv);
      } else out[at] = kv;
    }
  }
  return out;
}

function criEnv(envs: cri.KeyValue__Output[]): string[] {
  return (envs ?? []).map((kv) => {
    if (!kv.key) throw invalidArgument('environment variable with an empty name');
    const value = Buffer.isBuffer(kv.value) ? kv.value.toString('utf8') : String(kv.value ?? '');
    return `${kv.key}=${value}`;
  });
}

function optionalInt(v: cri.Int64Value__Output | null | undefined, what: string): number | undefined {
  if (!v) return undefined;
  const n = Number(v.value);
  if (!Number.isSafeInteger(n) || n < 0) throw invalidArgument(`${what} "${v.value}" is not a valid id`);
  return n;
}

function podNamespaces(sandbox: SandboxSpecInfo, cgroupV2: boolean): OciNamespace[] {
  const ns: OciNamespace[] = [];
  if (sandbox.ipcnsPath) ns.push({ type: 'ipc', path: sandbox.ipcnsPath });
  if (sandbox.utsnsPath) ns.push({ type: 'uts', path: sandbox.utsnsPath });
  ns.push({ type: 'mount' });
  if (sandbox.netnsPath) ns.push({ type: 'network', path: sandbox.netnsPath });
  // A private cgroup namespace hides the host hierarchy; on v1 runc bind-mounts the container's own paths instead.
  if (cgroupV2) ns.push({ type: 'cgroup' });
  return ns;
}

/**
 * The pod's user namespace, joined by path: the pinned namespace already carries the mappings,
 * which runc still wants in the spec (it checks them against the namespace's). Undefined: the host's.
 */
function podUserNamespaceSpec(sandbox: SandboxSpecInfo): { ns: OciNamespace; mapping: PodUserNamespace } | undefined {
  const mapping = podUserNamespace(sandbox.config.linux?.security_context?.namespace_options, `pod ${sandbox.config.metadata?.name ?? sandbox.id}`);
  if (!mapping) return undefined;
  if (!sandbox.usernsPath) throw failedPrecondition(`pod ${sandbox.id} asks for a user namespace but has none pinned`);
  return { ns: { type: 'user', path: sandbox.usernsPath }, mapping };
}

function withUserNamespace(spec: OciSpec, userns: { ns: OciNamespace; mapping: PodUserNamespace } | undefined): OciSpec {
  if (!userns) return spec;
  spec.linux.namespaces.unshift(userns.ns);
  spec.linux.uidMappings = ociMappings(userns.mapping.uids);
  spec.linux.gidMappings = ociMappings(userns.mapping.gids);
  return spec;
}

function baseAnnotations(sandbox: SandboxSpecInfo, type: 'container' | 'sandbox'): Record<string, string> {
  const md = sandbox.config.metadata;
  return {
    [ANNOTATIONS.containerType]: type,
    [ANNOTATIONS.sandboxId]: sandbox.id,
    [ANNOTATIONS.sandboxName]: md?.name ?? '',
    [ANNOTATIONS.sandboxNamespace]: md?.namespace ?? '',
    [ANNOTATIONS.sandboxUid]: md?.uid ?? '',
    [ANNOTATIONS.sandboxLogDir]: sandbox.config.log_directory ?? '',
  };
}

export function buildContainerSpec(input: ContainerSpecInput): OciSpec {
  const { config, sandbox, imageConfig } = input;
  if (!input.containerId) throw invalidArgument('container id is empty');
  if (!config.metadata?.name) throw invalidArgument('container config has no metadata.name');
  // cgroupfs driver: an absolute path; systemd driver: runc's "slice:prefix:name".
  if (!input.cgroupsPath.startsWith('/') && !parseSystemdCgroupsPath(input.cgroupsPath)) {
    throw invalidArgument(`cgroups path "${input.cgroupsPath}" must be absolute (cgroupfs) or "slice:prefix:name" (systemd)`);
  }
  const sc = config.linux?.security_context ?? null;
  const privileged = sc?.privileged ?? false;
  if (privileged && !sandbox.config.linux?.security_context?.privileged) {
    throw invalidArgument('no privileged container allowed in a sandbox that is not privileged');
  }
  const cgroupMode = input.cgroupMode ?? detectCgroupMode();
  const userns = podUserNamespaceSpec(sandbox);
  checkContainerUserNamespace(sc?.namespace_options, userns?.mapping, `container ${config.metadata.name}`);

  // Process: args, env, cwd, user.
  const args = processArgs(config, imageConfig);
  const hostUts = !sandbox.utsnsPath;
  const podHostname = hostUts ? osHostname() : sandbox.config.hostname;
  const imageEnv = imageConfig.Env ?? [];
  const env = mergeEnv([DEFAULT_PATH_ENV], [`HOSTNAME=${podHostname}`], imageEnv, criEnv(config.envs));
  const runAsUser = optionalInt(sc?.run_as_user, 'run_as_user');
  const runAsGroup = optionalInt(sc?.run_as_group, 'run_as_group');
  const user = resolveUser(input.rootfsPath, {
    ...(runAsUser !== undefined ? { runAsUser } : {}),
    ...(sc?.run_as_username ? { runAsUsername: sc.run_as_username } : {}),
    ...(runAsGroup !== undefined ? { runAsGroup } : {}),
    imageUser: imageConfig.User ?? '',
    supplementalGroups: (sc?.supplemental_groups ?? []).map((g) => {
      const n = Number(g);
      if (!Number.isSafeInteger(n) || n < 0) throw invalidArgument(`supplemental group "${g}" is not a valid gid`);
      return n;
    }),
    supplementalGroupsPolicy: sc?.supplemental_groups_policy === 'Strict' ? 'Strict' : 'Merge',
  });
  const cwd = config.working_dir || imageConfig.WorkingDir || '/';
  if (!cwd.startsWith('/')) throw invalidArgument(`working_dir "${cwd}" must be an absolute path`);

  const capabilities = buildCapabilities({
    privileged,
    add: sc?.capabilities?.add_capabilities ?? [],
    drop: sc?.capabilities?.drop_capabilities ?? [],
    ambient: sc?.capabilities?.add_ambient_capabilities ?? [],
    ...(input.allCapabilities ? { allCaps: input.allCapabilities } : {}),
  });

  // Mounts.
  const readonlyRootfs = sc?.readonly_rootfs ?? false;
  const cri = criMounts(config.mounts ?? [], input.readMountInfo);
  // Volumes of a user-namespace pod are idmapped with the pod's mapping (runc >= 1.2), so a
  // volume's files owned by host uid 0 are root's inside and the pod's files land as their
  // container ids on the host, as with containerd 2.x and kubelet's KEP-127 (no chown).
  if (userns) {
    for (const m of cri.mounts) {
      m.uidMappings = ociMappings(userns.mapping.uids);
      m.gidMappings = ociMappings(userns.mapping.gids);
    }
  }
  const mounts = mergeMounts(
    defaultMounts({ privileged, ...(sandbox.shmPath ? { shmPath: sandbox.shmPath } : {}) }),
    sandboxFileMounts(sandbox, readonlyRootfs),
    cri.mounts,
  );

  // Devices.
  const devices: OciDevice[] = [];
  const deviceRules: OciDeviceCgroupRule[] = [{ allow: false, access: 'rwm' }];
  if (privileged) {
    for (const d of hostDevices(input.devRoot)) devices.push(d.device);
    deviceRules.splice(0, deviceRules.length, { allow: true, access: 'rwm' });
  }
  for (const d of config.devices ?? []) {
    for (const found of devicesFromCri(d.host_path, d.container_path, d.permissions)) {
      const existing = devices.findIndex((x) => x.path === found.device.path);
      if (existing >= 0) devices.splice(existing, 1);
      devices.push(found.device);
      if (!privileged) deviceRules.push(found.rule);
    }
  }

  // Resources.
  // kubelet sends a (zero) limit for every hugepage size the node has; runc fails the container if
  // the hugetlb controller isn't mounted (this host), so limits only go out when they can apply.
  const hugetlb = input.hugetlbAvailable ?? availableControllers().has('hugetlb');
  const resources = resourcesFromCri(config.linux?.resources, { cgroupV2: isV2(cgroupMode), hugetlb });
  resources.devices = deviceRules;
  const oomScoreAdj = clampOomScoreAdj(config.linux?.resources?.oom_score_adj, input.hostOomScoreAdjMin);

  // Namespaces.
  const namespaces = podNamespaces(sandbox, isV2(cgroupMode));
  const pidMode = sc?.namespace_options?.pid ?? 'POD';
  switch (pidMode) {
    case 'NODE':
      break;
    case 'POD':
      if (!sandbox.pidnsPath) throw failedPrecondition(`container asks for the pod's PID namespace but pod ${sandbox.id} has none`);
      namespaces.unshift({ type: 'pid', path: sandbox.pidnsPath });
      break;
    case 'CONTAINER':
      namespaces.unshift({ type: 'pid' });
      break;
    case 'TARGET':
      if (!sc?.namespace_options?.target_id) throw invalidArgument('pid namespace mode TARGET without target_id');
      if (!input.targetPid) throw failedPrecondition(`target container ${sc.namespace_options.target_id} is not running`);
      namespaces.unshift({ type: 'pid', path: `/proc/${input.targetPid}/ns/pid` });
      break;
    default:
      throw invalidArgument(`unknown pid namespace mode ${String(pidMode)}`);
  }

  const seccomp = seccompForContainer({
    privileged,
    seccomp: sc?.seccomp,
    seccompProfilePath: sc?.seccomp_profile_path,
    bounding: capabilities.bounding,
    ...(input.seccompProfileRoot ? { profileRoot: input.seccompProfileRoot } : {}),
  });
  const apparmorProfile = apparmorProfileFor({ ...sc, privileged }, input.apparmor ?? NO_APPARMOR);
  checkSelinux(input.selinuxEnabled ?? false, `container ${config.metadata.name}`, {
    options: sc?.selinux_options,
    podOptions: sandbox.config.linux?.security_context?.selinux_options,
    mounts: config.mounts ?? [],
  });

  const maskedPaths = privileged ? [] : sc?.masked_paths?.length ? [...sc.masked_paths] : [...DEFAULT_MASKED_PATHS];
  const readonlyPaths = privileged ? [] : sc?.readonly_paths?.length ? [...sc.readonly_paths] : [...DEFAULT_READONLY_PATHS];

  const annotations: Record<string, string> = {
    ...(config.annotations ?? {}),
    ...baseAnnotations(sandbox, 'container'),
    [ANNOTATIONS.containerName]: config.metadata.name,
    [ANNOTATIONS.imageName]: input.imageName ?? config.image?.user_specified_image ?? config.image?.image ?? '',
  };

  const spec: OciSpec = {
    ociVersion: OCI_VERSION,
    process: {
      terminal: config.tty ?? false,
      user: { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids },
      args,
      env,
      cwd,
      capabilities,
      noNewPrivileges: sc?.no_new_privs ?? false,
      oomScoreAdj,
      ...(apparmorProfile ? { apparmorProfile } : {}),
    },
    root: { path: input.rootfsPath, readonly: readonlyRootfs },
    mounts,
    annotations,
    linux: {
      namespaces,
      devices,
      cgroupsPath: input.cgroupsPath,
      resources,
      maskedPaths,
      readonlyPaths,
      ...(cri.rootfsPropagation ? { rootfsPropagation: cri.rootfsPropagation } : {}),
      ...(seccomp ? { seccomp } : {}),
    },
  };
  // Setting a hostname needs a UTS namespace of our own; with the host's (hostNetwork) leave it alone.
  if (!hostUts && sandbox.config.hostname) spec.hostname = sandbox.config.hostname;
  return withUserNamespace(spec, userns);
}

export interface InfraSpecInput {
  sandbox: SandboxSpecInfo;
  /** directory used as the (read-only) root; must contain the infra binary */
  rootfsPath: string;
  /** e.g. ['/catatonit', '-P'] */
  args: string[];
  /** the infra process's cgroup under sandbox.cgroupParent (either driver's form) */
  cgroupsPath: string;
  hostOomScoreAdjMin: number;
  /** extra binds, e.g. the infra binary from the host */
  extraMounts?: OciMount[];
  cgroupMode?: CgroupMode;
}

/**
 * Spec of the pod's infra process (catatonit -P): holds a new PID namespace for the pod's
 * containers to join, inside the pod's net/ipc/uts namespaces, as root with no capabilities.
 */
export function buildInfraSpec(input: InfraSpecInput): OciSpec {
  const { sandbox } = input;
  if (input.args.length === 0) throw invalidArgument('infra process needs args');
  const cgroupMode = input.cgroupMode ?? detectCgroupMode();
  const namespaces: OciNamespace[] = [{ type: 'pid' }, ...podNamespaces(sandbox, isV2(cgroupMode))];
  const mounts = mergeMounts(
    [
      { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    ],
    [],
    input.extraMounts ?? [],
  );
  const noCaps = { bounding: [], effective: [], permitted: [], inheritable: [], ambient: [] };
  const spec: OciSpec = {
    ociVersion: OCI_VERSION,
    process: {
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: [...input.args],
      env: [DEFAULT_PATH_ENV],
      cwd: '/',
      capabilities: noCaps,
      noNewPrivileges: true,
      // kubelet gives the pause container -998; we can only go as low as our own value.
      oomScoreAdj: Math.max(-998, input.hostOomScoreAdjMin),
    },
    root: { path: input.rootfsPath, readonly: true },
    mounts,
    annotations: baseAnnotations(sandbox, 'sandbox'),
    linux: {
      namespaces,
      cgroupsPath: input.cgroupsPath,
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      maskedPaths: [...DEFAULT_MASKED_PATHS],
      readonlyPaths: [...DEFAULT_READONLY_PATHS],
      seccomp: defaultSeccompProfile([]),
    },
  };
  if (sandbox.utsnsPath && sandbox.config.hostname) spec.hostname = sandbox.config.hostname;
  // The infra's new PID namespace must belong to the pod's user namespace: /proc can only be
  // mounted from the user namespace that owns the PID namespace.
  return withUserNamespace(spec, podUserNamespaceSpec(sandbox));
}
