// Where the layer worker's program is: dist/pkg/image/layer-worker.js as tsc emitted it (also when
// this code runs inside the daemon's bundle), or layer-worker.ts bundled from the sources under
// vitest (pkg/sys/worker-url.ts says how).
import { workerUrl } from '../sys/worker-url.js';

export function layerWorkerUrl(): Promise<URL> {
  return workerUrl('pkg/image/layer-worker.js', import.meta.url);
}
