// Applies resolved CDI container edits to a container's OCI spec, in the order the CDI reference
// implementation does: env (a later NAME= replaces an earlier one), device nodes (linux.devices
// plus a device-cgroup allow rule; type/major/minor read from the host node when the spec leaves
// them out), mounts (replacing a mount at the same destination), hooks, additional gids.
import { statSync } from 'node:fs';
import { devMajor, devMinor } from '../oci/devices.js';
import type { OciDevice, OciSpec } from '../oci/spec-types.js';
import { CdiError, type ContainerEdits } from './spec-file.js';

const S_IFMT = 0o170000n;
const TYPES = new Map<bigint, 'c' | 'b' | 'p'>([
  [0o020000n, 'c'],
  [0o060000n, 'b'],
  [0o010000n, 'p'],
]);

type DeviceNode = NonNullable<ContainerEdits['deviceNodes']>[number];

function hostDevice(node: DeviceNode): OciDevice {
  const hostPath = node.hostPath ?? node.path;
  let type = node.type;
  let { major, minor } = node;
  let fileMode = node.fileMode;
  if (type === undefined || ((type === 'c' || type === 'b' || type === 'u') && (major === undefined || minor === undefined))) {
    let st;
    try {
      st = statSync(hostPath, { bigint: true });
    } catch (e) {
      throw new CdiError(`CDI device node ${hostPath}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, 'Unresolvable');
    }
    const found = TYPES.get(st.mode & S_IFMT);
    if (!found) throw new CdiError(`CDI device node ${hostPath} is not a device`, 'Unresolvable');
    type ??= found;
    major ??= devMajor(st.rdev);
    minor ??= devMinor(st.rdev);
    fileMode ??= Number(st.mode & 0o777n);
  }
  return {
    type,
    path: node.path,
    ...(type !== 'p' ? { major, minor } : {}),
    ...(fileMode !== undefined ? { fileMode } : {}),
    ...(node.uid !== undefined ? { uid: node.uid } : {}),
    ...(node.gid !== undefined ? { gid: node.gid } : {}),
  };
}

export function applyCdiEdits(spec: OciSpec, all: readonly ContainerEdits[]): void {
  const rules = (spec.linux.resources ??= {}).devices ?? [];
  const allowAll = rules.some((r) => r.allow && r.type === undefined && r.major === undefined);
  for (const e of all) {
    for (const kv of e.env ?? []) {
      const key = kv.slice(0, kv.indexOf('=') + 1);
      spec.process.env = [...spec.process.env.filter((x) => !x.startsWith(key)), kv];
    }
    for (const node of e.deviceNodes ?? []) {
      const d = hostDevice(node);
      spec.linux.devices = [...(spec.linux.devices ?? []).filter((x) => x.path !== d.path), d];
      if (!allowAll && d.type !== 'p') {
        rules.push({ allow: true, type: d.type === 'b' ? 'b' : 'c', major: d.major!, minor: d.minor!, access: node.permissions || 'rwm' });
      }
    }
    for (const m of e.mounts ?? []) {
      const type = m.type || 'bind';
      const options = m.options ?? [];
      spec.mounts = [
        ...spec.mounts.filter((x) => x.destination !== m.containerPath),
        { destination: m.containerPath, type, source: m.hostPath, options: type === 'bind' && !options.some((o) => o === 'bind' || o === 'rbind') ? ['bind', ...options] : options },
      ];
    }
    for (const h of e.hooks ?? []) {
      const hooks = (spec.hooks ??= {});
      (hooks[h.hookName] ??= []).push({ path: h.path, ...(h.args ? { args: h.args } : {}), ...(h.env ? { env: h.env } : {}), ...(h.timeout !== undefined ? { timeout: h.timeout } : {}) });
    }
    for (const gid of e.additionalGids ?? []) {
      const user = spec.process.user;
      if (gid !== 0 && !(user.additionalGids ?? []).includes(gid)) user.additionalGids = [...(user.additionalGids ?? []), gid];
    }
  }
  spec.linux.resources.devices = rules;
}
