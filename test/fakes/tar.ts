// Tar archives for tests that feed the unpacker, the archive import and the registry: entries
// written one at a time (tar-stream wants each body done before the next header) with a fixed
// mtime, so the same entries give the same bytes and digests on every run.
import * as tar from 'tar-stream';

export type TarEntry = Partial<tar.Header> & { name: string; body?: string | Buffer };

export async function makeTar(entries: TarEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<void>((resolve, reject) => {
    pack.on('data', (c: unknown) => chunks.push(c as Buffer));
    pack.on('end', () => resolve());
    pack.on('error', reject);
  });
  for (const { body, ...h } of entries) {
    await new Promise<void>((resolve, reject) => {
      pack.entry({ mode: 0o644, mtime: new Date(1_600_000_000_000), ...h }, body ?? '', (err) => (err ? reject(err) : resolve()));
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}
