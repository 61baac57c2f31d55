// Where a worker thread's program is. Built (dist/): the file tsc emitted, dist/<rel>, found from
// the install root because the caller may run inside the daemon's bundle (dist/cmd/bulkheadd/
// main.js), where a URL relative to import.meta.url points beside main.js. From TypeScript sources
// (vitest runs pkg/ untranspiled, and a worker thread cannot load .ts): <checkout>/<rel as .ts>
// bundled once per process with esbuild (a devDependency, present wherever the sources are run)
// into a temporary .mjs. koffi stays external (a native addon), imported by absolute path;
// import.meta.url is pinned to the program's source, so createRequire-based lookups (fzstd in
// zstd-worker-stream.ts) and installRoot() resolve as they do from the sources.
import { createHash } from 'node:crypto';
import { renameSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { threadId } from 'node:worker_threads';
import { distPath, installRoot } from './install-root.js';

const bundled = new Map<string, Promise<URL>>();

/**
 * The program `rel` (as tsc emits it, e.g. 'pkg/sys/mount-worker.js') for a caller at `callerUrl`
 * (its import.meta.url): which of the two forms depends on whether the caller runs built or from sources.
 */
export function workerUrl(rel: string, callerUrl: string): Promise<URL> {
  if (!fileURLToPath(callerUrl).endsWith('.ts')) return Promise.resolve(pathToFileURL(distPath(rel, callerUrl)));
  const source = join(installRoot(callerUrl), rel.replace(/\.js$/, '.ts'));
  let url = bundled.get(source);
  if (!url) {
    url = bundleFromSources(source);
    bundled.set(source, url);
  }
  return url;
}

async function bundleFromSources(source: string): Promise<URL> {
  const esbuild = await import('esbuild');
  const koffiPath = createRequire(import.meta.url).resolve('koffi');
  const out = await esbuild.build({
    entryPoints: [source],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    write: false,
    logLevel: 'silent',
    define: { 'import.meta.url': JSON.stringify(pathToFileURL(source).href) },
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
  const name = basename(source, '.ts');
  const file = join(tmpdir(), `bulkhead-${name}-${createHash('sha256').update(text).digest('hex').slice(0, 16)}.mjs`);
  const tmp = `${file}.${process.pid}.${threadId}`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
  return pathToFileURL(file);
}
