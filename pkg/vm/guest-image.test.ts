import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { cancelGuestImageBuild, ensureGuestImage } from './guest-image.js';

// A stand-in for build-guest.sh with the same shape: a work dir removed by an EXIT trap, TERM
// trapped into exit, and a long-running child (the real one runs dpkg-deb, mkfs.erofs...).
const SLOW_SCRIPT = `#!/bin/bash
set -euo pipefail
trap 'exit 143' TERM INT HUP
work=$(mktemp -d "$1/.build-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
sleep 60 & echo $! > "$1/child.pid"; wait
`;

/** Running, not a zombie: the stand-in's sleep is reparented once bash exits and may wait to be reaped. */
const alive = (pid: number): boolean => {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    return false;
  }
};

describe('guest image build', () => {
  let dir = '';
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  test('cancel stops the script and its children, and the script removes its work dir', { timeout: 60_000 }, async () => {
    dir = mkdtempSync(join(tmpdir(), 'bh-guest-build-'));
    const script = join(dir, 'build.sh');
    writeFileSync(script, SLOW_SCRIPT);
    chmodSync(script, 0o755);
    const image = ensureGuestImage(dir, script);
    const failed = image.catch((e: Error) => e);
    // The file exists (empty) before the pid is written into it: wait for a whole number. 30 s:
    // a loaded CI machine once took longer than 5 s to get bash that far.
    const childPid = (): number => (existsSync(join(dir, 'child.pid')) ? Number(readFileSync(join(dir, 'child.pid'), 'utf8').trim()) : 0);
    for (let i = 0; i < 600 && !(childPid() > 0); i++) await new Promise((r) => setTimeout(r, 50));
    const child = childPid();
    expect(child).toBeGreaterThan(0);
    expect(alive(child)).toBe(true);

    await cancelGuestImageBuild(dir);
    expect(alive(child)).toBe(false);
    expect(String(await failed)).toMatch(/build stopped/);
    const left = readdirSync(dir).filter((n) => n.startsWith('.build-'));
    expect(left).toEqual([]);
  });

  test('a failing script rejects with the tail of its stderr', async () => {
    dir = mkdtempSync(join(tmpdir(), 'bh-guest-build-'));
    const script = join(dir, 'build.sh');
    writeFileSync(script, '#!/bin/bash\necho "build-guest: cannot resolve linux-image-cloud-amd64" >&2\nexit 1\n');
    await expect(ensureGuestImage(dir, script)).rejects.toThrow(/exit 1.*cannot resolve linux-image/s);
  });
});
