// Loads the vendored CRI proto at run time (protobufjs via @grpc/proto-loader) and re-exports
// the generated TypeScript types, so handlers are typed without a second code generator.
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { existsSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ProtoGrpcType } from '../../api/gen/cri/api.js';

export type * as cri from './cri-types.js';

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

let cached: ProtoGrpcType | undefined;

export function loadCri(): ProtoGrpcType {
  if (!cached) {
    const def = protoLoader.loadSync(criProtoPath(), CRI_LOADER_OPTIONS);
    cached = grpc.loadPackageDefinition(def) as unknown as ProtoGrpcType;
  }
  return cached;
}
