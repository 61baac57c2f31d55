import { mkdtempSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RecordStore } from './records.js';

describe('RecordStore', () => {
  const dirs: string[] = [];
  afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('never writes a record again once it was removed (a late save must not resurrect it)', async () => {
    const base = mkdtempSync(join(tmpdir(), 'records-'));
    dirs.push(base);
    const store = new RecordStore<{ id: string; n: number }>(base, 'r.json');
    const id = 'a'.repeat(64);
    await store.save({ id, n: 1 });
    const inflight = store.save({ id, n: 2 }); // racing with the removal
    await store.remove(id);
    await inflight;
    await store.save({ id, n: 3 });
    expect(existsSync(join(base, id))).toBe(false);
    expect((await store.loadAll()).records).toEqual([]);
  });
});
