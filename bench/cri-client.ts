// One promisified CRI gRPC client used for every runtime under test, so both sides pay the same
// client cost (same proto loader options as the daemon: snake_case, int64 as strings, enum names).
import * as grpc from '@grpc/grpc-js';
import { loadCri } from '../pkg/api/cri.js';
import type { RuntimeServiceClient } from '../api/gen/cri/runtime/v1/RuntimeService.js';
import type { ImageServiceClient } from '../api/gen/cri/runtime/v1/ImageService.js';

/** A generated unary method (its last overload is (req, callback)) as a promise-returning function. */
type Unary<F> = F extends (req: infer Req, cb: grpc.requestCallback<infer Res>) => grpc.ClientUnaryCall
  ? (req: Req, timeoutMs?: number) => Promise<Res>
  : never;

/** The unary methods of a generated client. */
type Promisified<C> = { [K in keyof C as [Unary<C[K]>] extends [never] ? never : K]: Unary<C[K]> };

export type RuntimeApi = Promisified<RuntimeServiceClient>;
export type ImageApi = Promisified<ImageServiceClient>;

const DEFAULT_TIMEOUT_MS = 120_000;

function promisify<C extends grpc.Client>(client: C): Promisified<C> {
  return new Proxy({} as Promisified<C>, {
    get(_t, name: string) {
      const fn = (client as unknown as Record<string, unknown>)[name];
      if (typeof fn !== 'function') return undefined;
      return (req: unknown, timeoutMs = DEFAULT_TIMEOUT_MS) =>
        new Promise((resolve, reject) => {
          (fn as (r: unknown, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, v: unknown) => void) => void).call(
            client,
            req,
            { deadline: Date.now() + timeoutMs },
            (err, value) => (err ? reject(new Error(`${name}: ${err.details || err.message}`)) : resolve(value)),
          );
        });
    },
  });
}

export class CriClient {
  readonly runtime: RuntimeApi;
  readonly image: ImageApi;
  private readonly clients: grpc.Client[];

  constructor(readonly address: string) {
    const pkg = loadCri().runtime.v1;
    const target = `unix://${address}`;
    // Large messages: ListContainers/Stats with many pods.
    const opts = { 'grpc.max_receive_message_length': 64 << 20 };
    const rt = new pkg.RuntimeService(target, grpc.credentials.createInsecure(), opts);
    const im = new pkg.ImageService(target, grpc.credentials.createInsecure(), opts);
    this.clients = [rt, im];
    this.runtime = promisify(rt);
    this.image = promisify(im);
  }

  /** Resolves once the channel is connected (or rejects after timeoutMs). */
  async ready(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    await Promise.all(
      this.clients.map(
        (c) => new Promise<void>((resolve, reject) => c.waitForReady(deadline, (e) => (e ? reject(e) : resolve()))),
      ),
    );
  }

  close(): void {
    for (const c of this.clients) c.close();
  }
}
