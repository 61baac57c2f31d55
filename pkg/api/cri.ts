// Loads the vendored CRI proto at run time (protobufjs via @grpc/proto-loader) and re-exports
// the generated TypeScript types, so handlers are typed without a second code generator. Clients use
// loadCri(); the daemon's server builds its method tables without proto-loader (cri-services.ts).
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ProtoGrpcType } from '../../api/gen/cri/api.js';
import { CRI_LOADER_OPTIONS, criProtoPath } from './cri-proto.js';

export type * as cri from './cri-types.js';

export { CRI_LOADER_OPTIONS, criProtoPath };

let cached: ProtoGrpcType | undefined;

export function loadCri(): ProtoGrpcType {
  if (!cached) {
    const def = protoLoader.loadSync(criProtoPath(), CRI_LOADER_OPTIONS);
    cached = grpc.loadPackageDefinition(def) as unknown as ProtoGrpcType;
  }
  return cached;
}
