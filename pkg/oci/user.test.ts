import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, mkdirSync, writeFileSync, symlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveUser } from './user.js';
import { resolveInRoot } from './rootfs-path.js';

const PASSWD = `root:x:0:0:root:/root:/bin/sh
# comment
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
app:x:1000:1000:App:/home/app:/bin/sh
bad:line
web:x:33:33::/var/www:/bin/sh
`;
const GROUP = `root:x:0:
daemon:x:1:
app:x:1000:
wheel:x:10:app,web
audio:x:29: app
web:x:33:
`;

let root: string;
let linked: string;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'bulkhead-user-'));
  mkdirSync(join(root, 'etc'));
  writeFileSync(join(root, 'etc/passwd'), PASSWD);
  writeFileSync(join(root, 'etc/group'), GROUP);
  // A rootfs whose /etc/passwd is an absolute symlink: it must resolve inside the rootfs.
  linked = mkdtempSync(join(tmpdir(), 'bulkhead-user-link-'));
  mkdirSync(join(linked, 'etc'));
  mkdirSync(join(linked, 'data'));
  writeFileSync(join(linked, 'data/passwd'), 'root:x:0:0::/root:/bin/sh\nlinked:x:4242:4243::/:/bin/sh\n');
  symlinkSync('/data/passwd', join(linked, 'etc/passwd'));
  writeFileSync(join(linked, 'data/group'), 'root:x:0:\nclub:x:777:linked\n');
  symlinkSync('../../../../../../../data/group', join(linked, 'etc/group'));
  symlinkSync('loop2', join(linked, 'loop1'));
  symlinkSync('/loop1', join(linked, 'loop2'));
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
  rmSync(linked, { recursive: true, force: true });
});

describe('resolveUser', () => {
  it.each([
    ['', { uid: 0, gid: 0, additionalGids: [0] }],
    ['app', { uid: 1000, gid: 1000, additionalGids: [1000, 10, 29] }],
    ['1000', { uid: 1000, gid: 1000, additionalGids: [1000, 10, 29] }],
    ['1000:33', { uid: 1000, gid: 33, additionalGids: [33, 10, 29] }],
    ['app:web', { uid: 1000, gid: 33, additionalGids: [33, 10, 29] }],
    ['web', { uid: 33, gid: 33, additionalGids: [33, 10] }],
    ['5000', { uid: 5000, gid: 0, additionalGids: [0] }],
    ['5000:5001', { uid: 5000, gid: 5001, additionalGids: [5001] }],
  ])('image user %j', (imageUser, want) => {
    expect(resolveUser(root, { imageUser })).toMatchObject(want);
  });

  it('run_as_user overrides the image user, run_as_group the gid', () => {
    expect(resolveUser(root, { imageUser: 'web', runAsUser: 1000 })).toMatchObject({ uid: 1000, gid: 1000 });
    expect(resolveUser(root, { imageUser: 'web', runAsUser: 1000, runAsGroup: 2000 })).toMatchObject({ uid: 1000, gid: 2000, additionalGids: [2000, 10, 29] });
    expect(resolveUser(root, { runAsUsername: 'daemon' })).toMatchObject({ uid: 1, gid: 1, username: 'daemon' });
  });

  it('supplemental groups: Merge adds image groups, Strict only the CRI ones', () => {
    expect(resolveUser(root, { imageUser: 'app', supplementalGroups: [50000, 10] }).additionalGids).toEqual([1000, 10, 29, 50000]);
    expect(resolveUser(root, { imageUser: 'app', supplementalGroups: [50000], supplementalGroupsPolicy: 'Strict' }).additionalGids).toEqual([1000, 50000]);
  });

  it('errors', () => {
    expect(() => resolveUser(root, { imageUser: 'nobody' })).toThrow(/not found/);
    expect(() => resolveUser(root, { imageUser: 'app:nogroup' })).toThrow(/group "nogroup" not found/);
    expect(() => resolveUser(root, { runAsUsername: 'ghost' })).toThrow(/not found/);
    expect(() => resolveUser(root, { runAsGroup: 5 })).toThrow(/run_as_group/);
    expect(() => resolveUser(root, { imageUser: 'a:b:c' })).toThrow(/invalid image user/);
  });

  it('reads passwd through symlinks resolved inside the rootfs, never the host', () => {
    expect(resolveUser(linked, { imageUser: 'linked' })).toMatchObject({ uid: 4242, gid: 4243 });
    expect(resolveInRoot(linked, '/etc/passwd')).toBe(join(linked, 'data/passwd'));
    // ".." never climbs above the rootfs, in the path or in a link target.
    expect(resolveInRoot(linked, '/../../etc/shadow')).toBe(join(linked, 'etc/shadow'));
    expect(resolveInRoot(linked, '/etc/group')).toBe(join(linked, 'data/group'));
    expect(resolveUser(linked, { imageUser: 'linked' }).additionalGids).toEqual([4243, 777]);
    expect(() => resolveInRoot(linked, '/loop1/x')).toThrow(/too many levels/);
  });

  it('an image without /etc/passwd still runs numeric users', () => {
    const empty = mkdtempSync(join(tmpdir(), 'bulkhead-user-empty-'));
    try {
      expect(resolveUser(empty, { imageUser: '65534:65534' })).toMatchObject({ uid: 65534, gid: 65534 });
      expect(() => resolveUser(empty, { imageUser: 'nobody' })).toThrow(/not found/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
