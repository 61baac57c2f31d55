// Every CRI request field Bulkhead does not honour, and what it does instead. A field is either
// read somewhere under pkg/ (honoured or checked) or listed here; cri-field-ledger.test.ts walks
// the vendored proto and fails on a field that is neither, so a newer CRI's new field can't be
// dropped silently. "refused" fields are also listed in README.md with their error.
export type FieldTreatment =
  | { treatment: 'refused'; error: string; why: string }
  | { treatment: 'not-applicable'; why: string }
  | { treatment: 'redundant'; why: string };

const WINDOWS = 'a Windows field: Bulkhead runs Linux pods only and kubelet sets it only on Windows nodes (containerd on Linux ignores it too)';

export const CRI_FIELD_LEDGER: Record<string, FieldTreatment> = {
  'NamespaceOption.userns_options': { treatment: 'refused', error: 'InvalidArgument', why: 'user-namespace pods (hostUsers: false) need runc >= 1.2; the host has 1.1.5' },
  'UserNamespace.uids': { treatment: 'refused', error: 'InvalidArgument', why: 'part of userns_options (refused as a whole)' },
  'UserNamespace.gids': { treatment: 'refused', error: 'InvalidArgument', why: 'part of userns_options (refused as a whole)' },
  'IDMapping.host_id': { treatment: 'refused', error: 'InvalidArgument', why: 'part of userns_options (refused as a whole)' },
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
