// Bundles the daemon (tsc's dist/cmd/bulkheadd/main.js and everything it imports) into that same
// file, minified: one module instead of ~400 saves the module graph's memory. Measured
// 2026-12-05 (import of the daemon, Node 20): RSS 81.5 MiB unbundled, 65.5 MiB bundled and
// minified; containerd 2.4.2 idles at ~51 MiB (issue #18's target: <= 1.2x). The per-module files
// stay in dist/ for the other entry points, the worker threads' programs (dist/pkg/image/
// layer-worker.js, dist/pkg/sys/mount-worker.js; pkg/sys/worker-url.ts finds them) and the tests.
// Native or optional imports stay external: koffi (an addon), esbuild (only used when running
// from the TypeScript sources), x11 (dbus-next's optional X11 transport). Identifiers keep their
// names, so stack traces and logged errors stay readable.
import { build } from 'esbuild';
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const main = fileURLToPath(new URL('../dist/cmd/bulkheadd/main.js', import.meta.url));
// Built under the same file name in a directory of its own, so the sourceMappingURL comment names main.js.map.
const tmpDir = join(dirname(main), '.bundle');
const tmp = join(tmpDir, 'main.js');
rmSync(tmpDir, { recursive: true, force: true });
mkdirSync(tmpDir);
await build({
  entryPoints: [main],
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  minify: true,
  keepNames: true,
  sourcemap: true,
  external: ['koffi', 'esbuild', 'x11'],
  logLevel: 'warning',
  // CommonJS dependencies (grpc-js, pino, ...) call require() for node builtins: give them one.
  banner: { js: "import { createRequire as __bhCreateRequire } from 'node:module'; const require = __bhCreateRequire(import.meta.url);" },
  outfile: tmp,
});
renameSync(`${tmp}.map`, `${main}.map`);
renameSync(tmp, main);
rmSync(tmpDir, { recursive: true, force: true });
