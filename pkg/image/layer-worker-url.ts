// Where the layer worker's program is. Built (dist/): dist/pkg/image/layer-worker.js, as tsc
// emitted it (this code may run inside the daemon's bundle, dist/cmd/bulkheadd/main.js). From
// TypeScript sources (vitest runs pkg/ untranspiled, and a worker thread cannot load .ts):
// layer-worker.ts bundled once per process with esbuild (a devDependency, present wherever the
// sources are run) into a temporary .mjs. koffi stays external (a native addon), imported by
// absolute path; import.meta.url is pinned to this directory so createRequire-based lookups
// (fzstd in zstd-worker-stream.ts) resolve as they do from the sources.
import { createHash } from 'node:crypto';
import { renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { threadId } from 'node:worker_threads';
import { distPath } from '../sys/install-root.js';

let bundled: Promise<URL> | undefined;

export function layerWorkerUrl(): Promise<URL> {
  const self = fileURLToPath(import.meta.url);
  // Built: tsc's layer-worker.js, also when this code runs inside the daemon's bundle.
  if (!self.endsWith('.ts')) return Promise.resolve(pathToFileURL(distPath('pkg/image/layer-worker.js', import.meta.url)));
  bundled ??= bundleFromSources(self);
  return bundled;
}

async function bundleFromSources(self: string): Promise<URL> {
  const esbuild = await import('esbuild');
  const koffiPath = createRequire(import.meta.url).resolve('koffi');
  const here = new URL('./layer-worker.ts', import.meta.url);
  const out = await esbuild.build({
    entryPoints: [fileURLToPath(here)],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    write: false,
    logLevel: 'silent',
    define: { 'import.meta.url': JSON.stringify(pathToFileURL(self).href) },
    // tar-stream and friends are CommonJS: their require() of node builtins needs a real require.
    banner: { js: "import { createRequire as __bhCreateRequire } from 'node:module'; const require = __bhCreateRequire(import.meta.url);" },
    plugins: [
      {
        name: 'koffi-by-path',
        setup(b) {
          b.onResolve({ filter: /^koffi$/ }, () => ({ path: pathToFileURL(koffiPath).href, external: true }));
        },
      },
    ],
  });
  // One file per bundle content (test runs only: dist never gets here), shared by the vitest
  // workers that bundle the same sources: not a temp dir left behind by each of them. Written
  // under a private name and renamed, so a worker never loads another's half-written file.
  const text = out.outputFiles[0]!.text;
  const file = join(tmpdir(), `bulkhead-layer-worker-${createHash('sha256').update(text).digest('hex').slice(0, 16)}.mjs`);
  const tmp = `${file}.${process.pid}.${threadId}`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
  return pathToFileURL(file);
}
