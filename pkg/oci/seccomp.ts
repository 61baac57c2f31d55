// Picks the seccomp filter of a container from the CRI security context: the SecurityProfile
// field wins over the deprecated seccomp_profile_path string; privileged means unconfined;
// Localhost profiles are read from the node (OCI or Docker JSON format).
import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import type * as cri from '../api/cri-types.js';
import { errnoCode, invalidArgument } from '../errors/errors.js';
import { defaultSeccompProfile, DEFAULT_SECCOMP_ARCHITECTURES } from './seccomp-default.js';
import type { OciSeccomp, SeccompAction, SeccompArg, SeccompSyscall } from './spec-types.js';

export interface SeccompRequest {
  privileged: boolean;
  seccomp: cri.SecurityProfile__Output | null | undefined;
  seccompProfilePath: string | undefined;
  /** The container's bounding capabilities (capability-conditional syscalls). */
  bounding: readonly string[];
  /** Base directory for relative Localhost profile names. */
  profileRoot?: string;
}

export function seccompForContainer(req: SeccompRequest): OciSeccomp | undefined {
  if (req.privileged) return undefined;
  if (req.seccomp) {
    switch (req.seccomp.profile_type) {
      case 'RuntimeDefault':
        return defaultSeccompProfile(req.bounding);
      case 'Unconfined':
        return undefined;
      case 'Localhost':
        return loadLocalhostProfile(req.seccomp.localhost_ref, req.bounding, req.profileRoot);
      default:
        throw invalidArgument(`unsupported seccomp profile type ${String(req.seccomp.profile_type)}`);
    }
  }
  const path = req.seccompProfilePath ?? '';
  if (path === '' || path === 'unconfined') return undefined;
  if (path === 'runtime/default' || path === 'docker/default') return defaultSeccompProfile(req.bounding);
  if (path.startsWith('localhost/')) return loadLocalhostProfile(path.slice('localhost/'.length), req.bounding, req.profileRoot);
  throw invalidArgument(`unsupported seccomp profile "${path}"`);
}

export function loadLocalhostProfile(ref: string, bounding: readonly string[], profileRoot?: string): OciSeccomp {
  if (!ref) throw invalidArgument('seccomp Localhost profile without localhost_ref');
  let path = ref;
  if (!isAbsolute(ref)) {
    if (!profileRoot) throw invalidArgument(`seccomp localhost profile "${ref}" must be an absolute path`);
    path = join(profileRoot, ref);
  }
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw invalidArgument(`cannot read seccomp profile ${path}: ${errnoCode(e) ?? String(e)}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw invalidArgument(`seccomp profile ${path} is not valid JSON: ${(e as Error).message}`);
  }
  return normalizeProfile(raw, bounding, path);
}

interface RawProfile {
  defaultAction?: unknown;
  defaultErrnoRet?: unknown;
  architectures?: unknown;
  archMap?: { architecture?: string; subArchitectures?: string[] }[];
  flags?: unknown;
  syscalls?: RawSyscall[];
}

interface RawSyscall {
  name?: string;
  names?: string[];
  action?: unknown;
  errnoRet?: unknown;
  args?: SeccompArg[] | null;
  includes?: { caps?: string[]; arches?: string[] };
  excludes?: { caps?: string[]; arches?: string[] };
}

const NODE_ARCH_TO_SECCOMP: Record<string, string> = { x64: 'amd64', arm64: 'arm64' };

/** Accepts an OCI LinuxSeccomp object or a Docker profile (archMap, includes/excludes). */
export function normalizeProfile(raw: unknown, bounding: readonly string[], where = 'profile'): OciSeccomp {
  if (!raw || typeof raw !== 'object') throw invalidArgument(`seccomp ${where}: not a JSON object`);
  const p = raw as RawProfile;
  if (typeof p.defaultAction !== 'string' || !p.defaultAction.startsWith('SCMP_ACT_')) {
    throw invalidArgument(`seccomp ${where}: missing or invalid defaultAction`);
  }
  const out: OciSeccomp = { defaultAction: p.defaultAction as SeccompAction };
  if (typeof p.defaultErrnoRet === 'number') out.defaultErrnoRet = p.defaultErrnoRet;
  if (Array.isArray(p.architectures) && p.architectures.length > 0) out.architectures = p.architectures.map(String);
  else if (Array.isArray(p.archMap)) {
    const native = p.archMap.find((a) => a.architecture === 'SCMP_ARCH_X86_64');
    if (native) out.architectures = [native.architecture as string, ...(native.subArchitectures ?? [])];
  }
  if (!out.architectures && p.archMap) out.architectures = [...DEFAULT_SECCOMP_ARCHITECTURES];
  if (Array.isArray(p.flags) && p.flags.length > 0) out.flags = p.flags.map(String);
  const caps = new Set(bounding);
  const arch = NODE_ARCH_TO_SECCOMP[process.arch] ?? process.arch;
  const syscalls: SeccompSyscall[] = [];
  for (const s of p.syscalls ?? []) {
    const names = s.names ?? (s.name ? [s.name] : []);
    if (names.length === 0) continue;
    if (typeof s.action !== 'string') throw invalidArgument(`seccomp ${where}: syscall ${names[0]} without action`);
    if (s.includes?.caps?.length && !s.includes.caps.every((c) => caps.has(c))) continue;
    if (s.includes?.arches?.length && !s.includes.arches.includes(arch)) continue;
    if (s.excludes?.caps?.some((c) => caps.has(c))) continue;
    if (s.excludes?.arches?.includes(arch)) continue;
    const sc: SeccompSyscall = { names, action: s.action as SeccompAction };
    if (typeof s.errnoRet === 'number') sc.errnoRet = s.errnoRet;
    if (s.args && s.args.length > 0) sc.args = s.args;
    syscalls.push(sc);
  }
  if (syscalls.length > 0) out.syscalls = syscalls;
  return out;
}
