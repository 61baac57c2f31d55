// A full disk during unpacking fails the layer cleanly (ENOSPC → RESOURCE_EXHAUSTED for CRI) and
// removes the half-written snapshot. Needs root (mounts a tiny tmpfs).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { silentLogger } from '../pkg/log/logger.js';
import { SnapshotStore } from '../pkg/image/snapshots.js';
import { extractTar } from '../pkg/image/unpack.js';
import { toStatus, GrpcCode } from '../pkg/grpc/errors.js';
import { tarOf } from './lib/registry-push.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'bulkhead-enospc-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=512k', 'tmpfs', dir]);
});
afterAll(() => {
  execFileSync('umount', [dir]);
  rmSync(dir, { recursive: true, force: true });
});

describe('unpacking on a full disk', () => {
  it('fails with ENOSPC and leaves no snapshot', async () => {
    const snaps = SnapshotStore.open(dir, silentLogger);
    const layer = await tarOf([{ name: 'small', body: 'ok' }, { name: 'big', body: Buffer.alloc(2 << 20, 7) }]);
    const err = await snaps.ensure('sha256:' + 'c'.repeat(64), 'sha256:' + 'd'.repeat(64), null, (fs) => extractTar(Readable.from([layer]), { root: fs, allowDevices: false }).then(() => undefined)).catch((e: unknown) => e);
    expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC');
    expect(toStatus(err).code).toBe(GrpcCode.RESOURCE_EXHAUSTED);
    expect(readdirSync(snaps.dir).filter((n) => /^\d+$/.test(n))).toEqual([]);
    expect(snaps.list()).toEqual([]);
  });
});
