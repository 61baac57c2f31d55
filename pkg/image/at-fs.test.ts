// The fd-relative calls extraction relies on: none of them may follow a symlink at the last
// component, and openat2 IN_ROOT must keep `..` and absolute symlinks inside the root.
import { afterAll, describe, expect, it } from 'vitest';
import { closeSync, fstatSync, lstatSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync, chmodSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AT_FDCWD, lchmodat, lchownat, lutimesat, O_CLOEXEC, O_DIRECTORY, O_PATH, openat2, readlinkat, removeAt, RESOLVE_IN_ROOT } from './at-fs.js';

const top = mkdtempSync(join(tmpdir(), 'bulkhead-atfs-'));
afterAll(() => rmSync(top, { recursive: true, force: true }));
const isRoot = process.getuid?.() === 0;

describe('directory-fd-relative calls', () => {
  const root = join(top, 'root');
  const outside = join(top, 'outside');
  mkdirSync(join(root, 'in'), { recursive: true });
  mkdirSync(join(outside, 'deep'), { recursive: true });
  writeFileSync(join(outside, 'f'), 'keep');
  chmodSync(join(outside, 'f'), 0o644);
  symlinkSync(join(outside, 'f'), join(root, 'in', 'link'));
  symlinkSync(outside, join(root, 'abs'));
  symlinkSync('../../../..', join(root, 'in', 'up'));
  const rootfd = openat2(AT_FDCWD, root, O_PATH | O_DIRECTORY | O_CLOEXEC, 0);
  const infd = openat2(rootfd, 'in', O_PATH | O_DIRECTORY | O_CLOEXEC, RESOLVE_IN_ROOT);
  afterAll(() => [infd, rootfd].forEach((fd) => closeSync(fd)));

  it('resolves absolute symlinks and climbing `..` inside the root', () => {
    expect(() => openat2(rootfd, 'abs/deep', O_PATH | O_DIRECTORY, RESOLVE_IN_ROOT)).toThrow(/ENOENT/);
    const up = openat2(rootfd, 'in/up', O_PATH | O_DIRECTORY, RESOLVE_IN_ROOT);
    expect(fstatSync(up).ino).toBe(statSync(root).ino);
    closeSync(up);
  });

  it('never follows a symlink at the last component for mode, owner and times', () => {
    expect(() => lchmodat(infd, 'link', 0o777)).toThrow(/ENOTSUP|EOPNOTSUPP/);
    if (isRoot) lchownat(infd, 'link', 1234, 1234);
    lutimesat(infd, 'link', new Date(1_000_000_000), new Date(1_000_000_000));
    const target = statSync(join(outside, 'f'));
    expect([target.mode & 0o777, target.uid]).toEqual([0o644, process.getuid?.()]);
    expect(target.mtimeMs).not.toBe(1_000_000_000);
    const link = lstatSync(join(root, 'in', 'link'));
    expect(link.mtimeMs).toBe(1_000_000_000);
    if (isRoot) expect(link.uid).toBe(1234);
    expect(readlinkat(infd, 'link')).toBe(readlinkSync(join(root, 'in', 'link')));
  });

  it('refuses ids that do not fit uid_t, and NUL bytes in names', () => {
    expect(() => lchownat(infd, 'link', 2 ** 32, 0)).toThrow(/EINVAL/);
    expect(() => lchownat(infd, 'link', -1, 0)).toThrow(/EINVAL/);
    expect(() => openat2(rootfd, 'in\0/x', O_PATH, 0)).toThrow(/EINVAL/);
  });

  it('removes a tree without entering a symlink in it', () => {
    mkdirSync(join(root, 'tree', 'a', 'b'), { recursive: true });
    writeFileSync(join(root, 'tree', 'a', 'b', 'f'), 'x');
    symlinkSync(outside, join(root, 'tree', 'a', 'out'));
    removeAt(rootfd, 'tree');
    expect(() => lstatSync(join(root, 'tree'))).toThrow(/ENOENT/);
    expect(statSync(join(outside, 'f')).size).toBe(4);
    expect(statSync(join(outside, 'deep')).isDirectory()).toBe(true);
  });
});
