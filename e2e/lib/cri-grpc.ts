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

/** A pod made by a spec through CRI, with the calls every such spec repeats. */
export interface TestPod {
  id: string;
  /** The PodSandboxConfig it was run with (CreateContainer's sandbox_config). */
  config: { metadata: { name: string; namespace: string; uid: string; attempt: number }; log_directory: string; linux: object };
  /** CreateContainer with `sleep 3600` unless the config says otherwise; returns the container id. */
  create(name: string, image: string, config?: Record<string, unknown>): Promise<string>;
  /** ExecSync of `sh -c script`: stdout then stderr. */
  sh(containerId: string, script: string): Promise<string>;
  /** StopPodSandbox + RemovePodSandbox, ignoring errors (afterAll). */
  remove(): Promise<void>;
}

export interface TestPodOptions {
  /** RuntimeClass handler ('' = the default). */
  handler?: string;
  /** Per-call deadline; VM pods under TCG want minutes. */
  timeoutMs?: number;
}

export async function runTestPod(cri: CriClient, name: string, logRoot: string, opts: TestPodOptions = {}): Promise<TestPod> {
  const t = opts.timeoutMs ?? 60_000;
  const config = { metadata: { name, namespace: name, uid: `${name}-uid`, attempt: 0 }, log_directory: `${logRoot}/${name}`, linux: {} };
  const { pod_sandbox_id: id } = await cri.call<{ pod_sandbox_id: string }>('RunPodSandbox', { config, runtime_handler: opts.handler ?? '' }, t);
  return {
    id,
    config,
    create: async (ctr, image, cfg = {}) =>
      (
        await cri.call<{ container_id: string }>(
          'CreateContainer',
          {
            pod_sandbox_id: id,
            config: { metadata: { name: ctr, attempt: 0 }, image: { image }, command: ['sleep', '3600'], log_path: `${ctr}.log`, ...cfg },
            sandbox_config: config,
          },
          t,
        )
      ).container_id,
    sh: async (containerId, script) => {
      const r = await cri.call<{ stdout: Buffer; stderr: Buffer }>('ExecSync', { container_id: containerId, cmd: ['sh', '-c', script], timeout: Math.ceil(t / 2000) }, t);
      return `${r.stdout.toString()}${r.stderr.toString()}`;
    },
    remove: async () => {
      await cri.call('StopPodSandbox', { pod_sandbox_id: id }, t).catch(() => undefined);
      await cri.call('RemovePodSandbox', { pod_sandbox_id: id }, t).catch(() => undefined);
    },
  };
}
