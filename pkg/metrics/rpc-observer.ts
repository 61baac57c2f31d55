// The hook through which the CRI server reports each finished RPC; metrics implement it, so the
// metrics package does not depend on the server.
import type { status } from '@grpc/grpc-js';

export interface RpcObserver {
  /** Called once per finished RPC (metrics hook). */
  onRpc(service: string, method: string, code: status, seconds: number): void;
}
