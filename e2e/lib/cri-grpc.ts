// A typed-enough CRI gRPC client for specs that need exact per-RPC outcomes (which call was
// acknowledged) without a crictl process per call.
import * as grpc from '@grpc/grpc-js';
import { loadCri } from '../../pkg/api/cri.js';

type Unary = (req: unknown, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: unknown) => void) => void;

export interface CriClient {
  /** Calls a RuntimeService or ImageService RPC by name. */
  call<T = Record<string, unknown>>(method: string, req: unknown, timeoutMs?: number): Promise<T>;
  close(): void;
}

const IMAGE_RPCS = new Set(['ListImages', 'ImageStatus', 'PullImage', 'RemoveImage', 'ImageFsInfo']);

export function criClient(sock: string): CriClient {
  const { runtime } = loadCri();
  const opts = { 'grpc.max_receive_message_length': 64 << 20, 'grpc.max_send_message_length': 64 << 20 };
  const rt = new runtime.v1.RuntimeService(`unix://${sock}`, grpc.credentials.createInsecure(), opts) as unknown as grpc.Client & Record<string, unknown>;
  const img = new runtime.v1.ImageService(`unix://${sock}`, grpc.credentials.createInsecure(), opts) as unknown as grpc.Client & Record<string, unknown>;
  return {
    call<T>(method: string, req: unknown, timeoutMs = 60_000): Promise<T> {
      const c = IMAGE_RPCS.has(method) ? img : rt;
      return new Promise((resolve, reject) => {
        (c[method] as Unary).call(c, req, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => (err ? reject(err) : resolve(res as T)));
      });
    },
    close() {
      rt.close();
      img.close();
    },
  };
}

export function grpcCode(e: unknown): number | undefined {
  return typeof e === 'object' && e !== null && 'code' in e ? (e as { code: number }).code : undefined;
}
