// Every CRI request field Bulkhead does not honour, and what it does instead. A field is either
// read somewhere under pkg/ (honoured or checked) or listed here; cri-field-ledger.test.ts walks
// the vendored proto and fails on a field that is neither, so a newer CRI's new field can't be
// dropped silently. "refused" and "per-handler" fields are also listed in README.md with their error.
export type FieldTreatment =
  | { treatment: 'refused'; error: string; why: string }
  /** Honoured by some runtime handlers, refused by the others with `error`. */
  | { treatment: 'per-handler'; error: string; why: string }
  | { treatment: 'not-applicable'; why: string }
  | { treatment: 'redundant'; why: string };

const WINDOWS = 'a Windows field: Bulkhead runs Linux pods only and kubelet sets it only on Windows nodes (containerd on Linux ignores it too)';

export const CRI_FIELD_LEDGER: Record<string, FieldTreatment> = {
  'NamespaceOption.userns_options': {
    treatment: 'per-handler',
    error: 'InvalidArgument',
    why:
      'honoured (mode POD, one uid + one gid mapping from container id 0) on runc >= 1.2 handlers: deploy/install.sh installs runc 1.5.3, Debian 12 has 1.1.5. ' +
      'crun (Debian 12: 1.8.1) refuses: its idmapped volumes are not verified with Bulkhead. ' +
      'microvm refuses: the VM is that handler\'s boundary already, the guest\'s crun would run the pod with the guest\'s ids (no mapping in /proc/self/uid_map) and virtiofsd serves volumes unmapped, so accepting would only pretend; hostUsers: true is the way to run it',
  },
  'WindowsSandboxSecurityContext.credential_spec': { treatment: 'not-applicable', why: WINDOWS },
  'WindowsSandboxSecurityContext.host_process': { treatment: 'not-applicable', why: WINDOWS },
  'WindowsContainerResources.cpu_count': { treatment: 'not-applicable', why: WINDOWS },
  'WindowsContainerResources.cpu_maximum': { treatment: 'not-applicable', why: WINDOWS },
  'WindowsContainerResources.rootfs_size_in_bytes': { treatment: 'not-applicable', why: WINDOWS },
  'WindowsContainerResources.affinity_cpus': { treatment: 'not-applicable', why: WINDOWS },
  'WindowsCpuGroupAffinity.cpu_mask': { treatment: 'not-applicable', why: WINDOWS },
  'WindowsCpuGroupAffinity.cpu_group': { treatment: 'not-applicable', why: WINDOWS },
  'WindowsContainerSecurityContext.credential_spec': { treatment: 'not-applicable', why: WINDOWS },
  'WindowsContainerSecurityContext.host_process': { treatment: 'not-applicable', why: WINDOWS },
  'CreateContainerRequest.sandbox_config': { treatment: 'redundant', why: "the pod's config as RunPodSandbox received it is in Bulkhead's own record; the CRI contract says they are the same" },
  'PullImageRequest.sandbox_config': { treatment: 'redundant', why: 'containerd reads per-pod snapshotter/platform annotations from it; Bulkhead has one store for every handler (ImageSpec.runtime_handler is checked instead)' },
};
