// Asks a running daemon for Version and Status (verbose) over its CRI socket, as kubelet would.
import * as grpc from '@grpc/grpc-js';
import { existsSync } from 'node:fs';
import { loadCri } from '../api/cri.js';
import type { VersionResponse__Output } from '../../api/gen/cri/runtime/v1/VersionResponse.js';
import type { StatusResponse__Output } from '../../api/gen/cri/runtime/v1/StatusResponse.js';

export interface DaemonCondition {
  type: string;
  status: boolean;
  reason: string;
  message: string;
}

export type DaemonInfo =
  | {
      reachable: true;
      address: string;
      version: { runtime_name: string; runtime_version: string; runtime_api_version: string };
      conditions: DaemonCondition[];
      handlers: { name: string; recursive_read_only_mounts: boolean; user_namespaces: boolean }[];
      /** Status verbose info, JSON-decoded where possible (config = the config in effect). */
      info: Record<string, unknown>;
    }
  | { reachable: false; address: string; error: string };

function decode(v: string): unknown {
  try {
    return JSON.parse(v);
  } catch {
    return v;
  }
}

export async function queryDaemon(address: string, timeoutMs = 3000): Promise<DaemonInfo> {
  if (!existsSync(address)) return { reachable: false, address, error: `no socket at ${address}` };
  const Client = loadCri().runtime.v1.RuntimeService;
  const client = new Client(`unix://${address}`, grpc.credentials.createInsecure());
  const deadline = () => ({ deadline: Date.now() + timeoutMs });
  try {
    const version = await new Promise<VersionResponse__Output>((resolve, reject) =>
      client.Version({ version: 'v1' }, deadline(), (e, r) => (e || !r ? reject(e ?? new Error('empty reply')) : resolve(r))),
    );
    const status = await new Promise<StatusResponse__Output>((resolve, reject) =>
      client.Status({ verbose: true }, deadline(), (e, r) => (e || !r ? reject(e ?? new Error('empty reply')) : resolve(r))),
    );
    const info: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(status.info ?? {})) info[k] = decode(v);
    return {
      reachable: true,
      address,
      version: {
        runtime_name: version.runtime_name,
        runtime_version: version.runtime_version,
        runtime_api_version: version.runtime_api_version,
      },
      conditions: (status.status?.conditions ?? []).map((c) => ({ type: c.type, status: c.status, reason: c.reason, message: c.message })),
      handlers: (status.runtime_handlers ?? []).map((h) => ({
        name: h.name,
        recursive_read_only_mounts: h.features?.recursive_read_only_mounts ?? false,
        user_namespaces: h.features?.user_namespaces ?? false,
      })),
      info,
    };
  } catch (e) {
    const err = e as grpc.ServiceError;
    return { reachable: false, address, error: err.details || err.message || String(e) };
  } finally {
    client.close();
  }
}
