// Where the vendored CRI proto is and how its messages convert to JavaScript objects: shared by the
// server's method tables (cri-services.ts) and proto-loader's clients (cri.ts), without importing
// either's library.
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { existsSync } from 'node:fs';
import type * as protoLoader from '@grpc/proto-loader';

/** Options shared by the server, tests and benchmarks: snake_case fields, int64 as decimal strings, enums as names. */
export const CRI_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};

/** Finds api/cri/api.proto both from the sources (pkg/api) and from the build (dist/pkg/api). */
export function criProtoPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, 'api', 'cri', 'api.proto');
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new Error('cannot find api/cri/api.proto next to the Bulkhead installation');
}
