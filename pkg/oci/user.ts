// Works out the uid, gid and supplementary groups of a container's first process from the CRI
// security context and the image's "User", reading /etc/passwd and /etc/group of the container's
// rootfs (resolved inside the rootfs, never the host's), with containerd's precedence rules.
import { readFileSync, statSync } from 'node:fs';
import { errnoCode, invalidArgument } from '../errors/errors.js';
import { resolveInRoot } from './rootfs-path.js';

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

export interface UserRequest {
  runAsUser?: number;
  runAsUsername?: string;
  runAsGroup?: number;
  /** The image config's User: "", "uid", "uid:gid", "name", "name:group", "uid:group"... */
  imageUser?: string;
  supplementalGroups?: number[];
  /** Merge: add the groups /etc/group lists the user in. Strict: only the CRI's. */
  supplementalGroupsPolicy?: 'Merge' | 'Strict';
}

export interface ResolvedUser {
  uid: number;
  gid: number;
  /** Primary gid first, then image groups (Merge), then CRI supplemental groups, without repeats. */
  additionalGids: number[];
  /** The passwd name of uid, when the image has one. */
  username?: string;
  home?: string;
}

const MAX_FILE = 16 * 1024 * 1024;

function readRootfsFile(rootfs: string, path: string): string | undefined {
  try {
    const real = resolveInRoot(rootfs, path);
    const st = statSync(real);
    if (!st.isFile()) return undefined;
    if (st.size > MAX_FILE) throw invalidArgument(`${path} in the image is too large (${st.size} bytes)`);
    return readFileSync(real, 'utf8');
  } catch (e) {
    const code = errnoCode(e);
    // A broken image (dangling link, symlink loop) simply has no such file.
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP') return undefined;
    throw e;
  }
}

const isId = (s: string) => /^\d+$/.test(s);

export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const f = line.split(':');
    if (f.length < 4 || !isId(f[2]!) || !isId(f[3]!)) continue;
    out.push({ name: f[0]!, uid: Number(f[2]), gid: Number(f[3]), home: f[5] ?? '' });
  }
  return out;
}

export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const f = line.split(':');
    if (f.length < 3 || !isId(f[2]!)) continue;
    const members = (f[3] ?? '').split(',').map((m) => m.trim()).filter((m) => m !== '');
    out.push({ name: f[0]!, gid: Number(f[2]), members });
  }
  return out;
}

export function readPasswd(rootfs: string): PasswdEntry[] {
  const text = readRootfsFile(rootfs, '/etc/passwd');
  return text === undefined ? [] : parsePasswd(text);
}

export function readGroup(rootfs: string): GroupEntry[] {
  const text = readRootfsFile(rootfs, '/etc/group');
  return text === undefined ? [] : parseGroup(text);
}

function checkId(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 0 || n > 0xfffffffe) throw invalidArgument(`${what} ${n} is out of range`);
  return n;
}

export function resolveUser(rootfs: string, req: UserRequest): ResolvedUser {
  if (req.runAsGroup !== undefined && req.runAsUser === undefined && !req.runAsUsername) {
    throw invalidArgument('run_as_group is set without run_as_user or run_as_username');
  }
  if (req.runAsUser !== undefined && req.runAsUsername) {
    throw invalidArgument('only one of run_as_user and run_as_username may be set');
  }
  // Read lazily: most images run as root with no lookups needed beyond group membership.
  let passwd: PasswdEntry[] | undefined;
  let groups: GroupEntry[] | undefined;
  const pw = () => (passwd ??= readPasswd(rootfs));
  const gr = () => (groups ??= readGroup(rootfs));

  let uid: number;
  let gid: number;
  let entry: PasswdEntry | undefined;

  const byUid = (id: number) => {
    uid = checkId(id, 'uid');
    entry = pw().find((p) => p.uid === uid);
    gid = entry?.gid ?? 0;
  };
  const byName = (name: string) => {
    entry = pw().find((p) => p.name === name);
    if (!entry) throw invalidArgument(`user "${name}" not found in the image's /etc/passwd`);
    uid = entry.uid;
    gid = entry.gid;
  };

  if (req.runAsUser !== undefined) byUid(req.runAsUser);
  else if (req.runAsUsername) byName(req.runAsUsername);
  else {
    const spec = (req.imageUser ?? '').trim();
    const [userPart = '', groupPart, ...rest] = spec.split(':');
    if (rest.length > 0) throw invalidArgument(`invalid image user "${spec}"`);
    if (userPart === '') byUid(0);
    else if (isId(userPart)) byUid(Number(userPart));
    else byName(userPart);
    if (groupPart !== undefined && groupPart !== '') {
      if (isId(groupPart)) gid = checkId(Number(groupPart), 'gid');
      else {
        const g = gr().find((x) => x.name === groupPart);
        if (!g) throw invalidArgument(`group "${groupPart}" not found in the image's /etc/group`);
        gid = g.gid;
      }
    }
  }
  if (req.runAsGroup !== undefined) gid = checkId(req.runAsGroup, 'gid');

  const ids: number[] = [gid!];
  if ((req.supplementalGroupsPolicy ?? 'Merge') === 'Merge' && entry) {
    const name = (entry as PasswdEntry).name;
    for (const g of gr()) if (g.members.includes(name)) ids.push(g.gid);
  }
  for (const g of req.supplementalGroups ?? []) ids.push(checkId(g, 'supplemental group'));
  const found = entry as PasswdEntry | undefined;
  return {
    uid: uid!,
    gid: gid!,
    additionalGids: [...new Set(ids)],
    ...(found ? { username: found.name, home: found.home } : {}),
  };
}
