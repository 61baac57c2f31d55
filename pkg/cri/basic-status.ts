// Status checks that need no subsystem state: is the default handler's OCI runtime installed.
// (NetworkReady comes from the CNI runtime: pkg/network/status-source.ts.)
import { readdirSync } from 'node:fs';
import type { Config } from '../config/schema.js';
import { which } from '../sys/which.js';
import type { Condition, StatusSource } from './runtime-info.js';

export function cniConfigFiles(confDir: string): string[] {
  try {
    return readdirSync(confDir)
      .filter((f) => /\.(conf|conflist|json)$/.test(f))
      .sort();
  } catch {
    return [];
  }
}

export function basicStatusSources(config: Config): StatusSource[] {
  return [
    {
      async conditions(): Promise<Condition[]> {
        const h = config.runtime_handlers[config.default_runtime_handler];
        const bin = h?.kind === 'oci' ? h.runtime_path : h?.kind === 'vm' ? h.qemu_path : undefined;
        const found = bin ? which(bin) : undefined;
        const runtimeReady: Condition = found
          ? { type: 'RuntimeReady', status: true, reason: '', message: '' }
          : {
              type: 'RuntimeReady',
              status: false,
              reason: 'RuntimeBinaryMissing',
              message: `default handler "${config.default_runtime_handler}": ${bin ?? '?'} not found`,
            };
        return [runtimeReady];
      },
    },
  ];
}
