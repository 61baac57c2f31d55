// Helpers shared by the pkg/oci unit tests: minimal decoded CRI messages with proto3 defaults.
import type * as cri from '../api/cri-types.js';

export function podConfig(over: Partial<cri.PodSandboxConfig__Output> = {}): cri.PodSandboxConfig__Output {
  return {
    metadata: { name: 'pod', uid: 'uid-1', namespace: 'default', attempt: 0 },
    hostname: 'podhost',
    log_directory: '/var/log/pods/x',
    dns_config: null,
    port_mappings: [],
    labels: {},
    annotations: {},
    linux: null,
    windows: null,
    ...over,
  };
}

export function securityContext(over: Partial<cri.LinuxContainerSecurityContext__Output> = {}): cri.LinuxContainerSecurityContext__Output {
  return {
    capabilities: null,
    privileged: false,
    namespace_options: { network: 'POD', pid: 'CONTAINER', ipc: 'POD', target_id: '', userns_options: null },
    selinux_options: null,
    run_as_user: null,
    run_as_username: '',
    readonly_rootfs: false,
    supplemental_groups: [],
    apparmor_profile: '',
    seccomp_profile_path: '',
    no_new_privs: false,
    run_as_group: null,
    masked_paths: [],
    readonly_paths: [],
    seccomp: null,
    apparmor: null,
    supplemental_groups_policy: 'Merge',
    ...over,
  };
}

export function resources(over: Partial<cri.LinuxContainerResources__Output> = {}): cri.LinuxContainerResources__Output {
  return {
    cpu_period: '0',
    cpu_quota: '0',
    cpu_shares: '0',
    memory_limit_in_bytes: '0',
    oom_score_adj: '0',
    cpuset_cpus: '',
    cpuset_mems: '',
    hugepage_limits: [],
    unified: {},
    memory_swap_limit_in_bytes: '0',
    ...over,
  };
}

export function containerConfig(over: Partial<cri.ContainerConfig__Output> = {}, sc: Partial<cri.LinuxContainerSecurityContext__Output> = {}): cri.ContainerConfig__Output {
  return {
    metadata: { name: 'ctr', attempt: 0 },
    image: { image: 'busybox:latest', annotations: {}, user_specified_image: 'busybox', runtime_handler: '', image_ref: '' },
    command: [],
    args: [],
    working_dir: '',
    envs: [],
    mounts: [],
    devices: [],
    labels: {},
    annotations: {},
    log_path: '',
    stdin: false,
    stdin_once: false,
    tty: false,
    linux: { resources: resources(), security_context: securityContext(sc) },
    windows: null,
    CDI_devices: [],
    stop_signal: 'RUNTIME_DEFAULT',
    ...over,
  };
}

export function criMount(over: Partial<cri.Mount__Output>): cri.Mount__Output {
  return {
    container_path: '',
    host_path: '',
    readonly: false,
    selinux_relabel: false,
    propagation: 'PROPAGATION_PRIVATE',
    uidMappings: [],
    gidMappings: [],
    recursive_read_only: false,
    image: null,
    image_sub_path: '',
    ...over,
  };
}
