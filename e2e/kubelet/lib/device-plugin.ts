// A device plugin for the kubelet bench, as a GPU vendor's would be, for a harmless device: it
// advertises `count` devices of one resource, and Allocate answers with a CDI device name only
// (kubelet passes it to the runtime as ContainerConfig.CDI_devices; the runtime resolves it from
// the node's CDI spec dirs). Speaks deviceplugin v1beta1 (vendored proto beside this file).
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const PROTO = join(import.meta.dirname, 'deviceplugin-v1beta1.proto');

export interface DevicePlugin {
  /** Allocate calls seen, as the device ids kubelet asked for. */
  allocations: string[][];
  stop(): Promise<void>;
}

type Def = grpc.GrpcObject & { v1beta1: { Registration: grpc.ServiceClientConstructor; DevicePlugin: grpc.ServiceClientConstructor } };

export async function startDevicePlugin(opts: { pluginDir: string; resource: string; count: number; cdiDevice: string }): Promise<DevicePlugin> {
  const def = grpc.loadPackageDefinition(protoLoader.loadSync(PROTO, { keepCase: true, defaults: true })) as unknown as Def;
  const endpoint = `bulkhead-e2e-${opts.resource.replace(/[^a-z0-9]/gi, '-')}.sock`;
  const sock = join(opts.pluginDir, endpoint);
  rmSync(sock, { force: true });
  const allocations: string[][] = [];
  const watchers: grpc.ServerWritableStream<unknown, unknown>[] = [];
  const server = new grpc.Server();
  server.addService(def.v1beta1.DevicePlugin.service, {
    GetDevicePluginOptions: (_c: unknown, cb: grpc.sendUnaryData<object>) => cb(null, {}),
    ListAndWatch: (call: grpc.ServerWritableStream<unknown, unknown>) => {
      watchers.push(call);
      call.write({ devices: Array.from({ length: opts.count }, (_, i) => ({ ID: `dev${i}`, health: 'Healthy' })) });
    },
    GetPreferredAllocation: (_c: unknown, cb: grpc.sendUnaryData<object>) => cb(null, { container_responses: [] }),
    Allocate: (call: grpc.ServerUnaryCall<{ container_requests: { devices_ids: string[] }[] }, unknown>, cb: grpc.sendUnaryData<object>) => {
      for (const r of call.request.container_requests) allocations.push(r.devices_ids);
      cb(null, { container_responses: call.request.container_requests.map(() => ({ cdi_devices: [{ name: opts.cdiDevice }] })) });
    },
    PreStartContainer: (_c: unknown, cb: grpc.sendUnaryData<object>) => cb(null, {}),
  });
  await new Promise<void>((res, rej) => server.bindAsync(`unix://${sock}`, grpc.ServerCredentials.createInsecure(), (e) => (e ? rej(e) : res())));
  const kubeletSock = join(opts.pluginDir, 'kubelet.sock');
  if (!existsSync(kubeletSock)) throw new Error(`no kubelet device-plugin socket at ${kubeletSock}`);
  const reg = new def.v1beta1.Registration(`unix://${kubeletSock}`, grpc.credentials.createInsecure());
  await new Promise<void>((res, rej) =>
    (reg as unknown as { Register(r: object, cb: (e: Error | null) => void): void }).Register({ version: 'v1beta1', endpoint, resource_name: opts.resource, options: {} }, (e) => (e ? rej(e) : res())),
  );
  reg.close();
  return {
    allocations,
    async stop() {
      for (const w of watchers) w.end();
      await new Promise<void>((res) => server.tryShutdown(() => res()));
      rmSync(sock, { force: true });
    },
  };
}
