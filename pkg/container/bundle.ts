// The container's OCI bundle: the spec (pkg/oci/spec-builder.ts) for the record's config, its pod
// and its mounts, image volumes made read-only binds without idmaps, CDI edits applied, written as
// config.json (0600: the env may hold secrets); bind sources that do not exist are created first.
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type * as cri from '../api/cri-types.js';
import { applyCdiEdits } from '../cdi/apply.js';
import type { CdiRegistry } from '../cdi/registry.js';
import { invalidArgument } from '../errors/errors.js';
import type { AppArmorHost } from '../oci/apparmor.js';
import { buildContainerSpec } from '../oci/spec-builder.js';
import type { ContainerRecord, SandboxRecord } from '../store/records.js';
import { IMAGE_VOLUME_OPTIONS, type MountedImageVolumes } from './image-volumes.js';

export interface BundleOptions {
  imageConfig: Parameters<typeof buildContainerSpec>[0]['imageConfig'];
  hostOomScoreAdjMin: number;
  selinuxEnabled: boolean;
  apparmor?: AppArmorHost;
  cdi?: ReturnType<CdiRegistry['resolve']>;
}

/** Writes <c.bundleDir>/config.json; records the mounts as kubelet sees them and the process user on c. */
export async function writeBundle(c: ContainerRecord, sb: SandboxRecord, volumes: MountedImageVolumes, o: BundleOptions): Promise<void> {
  await prepareMounts(volumes.mounts);
  const config = c.config;
  const spec = buildContainerSpec({
    containerId: c.id,
    config: { ...config, mounts: volumes.mounts },
    sandbox: {
      id: sb.id,
      config: sb.config,
      netnsPath: sb.namespaces.net,
      ipcnsPath: sb.namespaces.ipc,
      utsnsPath: sb.namespaces.uts,
      pidnsPath: sb.namespaces.pid,
      ...(sb.namespaces.user ? { usernsPath: sb.namespaces.user } : {}),
      cgroupParent: sb.cgroupParent,
      resolvConfPath: sb.files.resolvConf,
      hostnamePath: sb.files.hostname,
      hostsPath: sb.files.hosts,
      shmPath: sb.files.shm,
    },
    imageConfig: o.imageConfig,
    rootfsPath: c.rootfs,
    cgroupsPath: c.cgroupsPath,
    hostOomScoreAdjMin: o.hostOomScoreAdjMin,
    selinuxEnabled: o.selinuxEnabled,
    ...(o.apparmor ? { apparmor: o.apparmor } : {}),
  });
  for (const m of spec.mounts) {
    if (!m.source || !volumes.sources.has(m.source)) continue;
    m.options = [...(m.options ?? []), ...IMAGE_VOLUME_OPTIONS];
    // A multi-layer image volume is an overlay, which cannot be idmapped (EINVAL): in a
    // user-namespace pod its read-only files show as the overflow id 65534, still readable.
    delete m.uidMappings;
    delete m.gidMappings;
  }
  c.config = { ...config, mounts: volumes.recorded };
  if (o.cdi) applyCdiEdits(spec, o.cdi.edits);
  await writeFile(join(c.bundleDir, 'config.json'), JSON.stringify(spec), { mode: 0o600 });
  const proc = (spec as { process?: { user?: { uid?: number; gid?: number; additionalGids?: number[] } } }).process;
  c.user = { uid: proc?.user?.uid ?? 0, gid: proc?.user?.gid ?? 0, additionalGids: proc?.user?.additionalGids ?? [] };
}

/** Bind-mount sources that do not exist are created as directories (as containerd does). */
async function prepareMounts(mounts: readonly cri.Mount__Output[]): Promise<void> {
  for (const m of mounts) {
    if (!m.host_path) throw invalidArgument(`mount ${m.container_path}: host_path must not be empty`);
    try {
      await stat(m.host_path);
    } catch {
      await mkdir(m.host_path, { recursive: true });
    }
  }
}
