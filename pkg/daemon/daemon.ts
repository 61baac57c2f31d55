// Wires the subsystems into one daemon: config → stores → runtimes → CRI handler groups → gRPC server.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { CriServer } from '../grpc/server.js';
import type { ImageHandlers, RuntimeHandlers } from '../grpc/handlers.js';
import { runtimeInfoHandlers, type StatusSource } from '../cri/runtime-info.js';
import { PodCidrSettings } from '../network/pod-cidr.js';
import { basicStatusSources } from '../cri/basic-status.js';
import { CniNetwork } from '../network/cni.js';
import { cniStatusSource } from '../network/status-source.js';
import { buildOps } from './ops.js';
import type { ReloadResult } from './reload.js';
import { buildPodsSubsystem } from './pods-subsystem.js';
import { registerPodCounter, podCensus } from '../metrics/registry.js';
import { ImageStore } from '../image/image-store.js';
import { imageServiceHandlers } from '../cri/image-service.js';
import { buildStreaming } from './streaming-wiring.js';
import { imageAdminRoutes } from './image-admin.js';
import { openCgroupDriver } from '../cgroups/driver.js';

export interface Daemon {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** SIGHUP: re-read the config, apply what can change live, log the rest as needing a restart. */
  reload(): Promise<ReloadResult>;
}

/** Something with background work or resources to release at shutdown. */
export interface Closeable {
  close(): Promise<void>;
}

export interface DaemonOptions {
  /** Re-reads the config for SIGHUP (file + the same CLI overrides). Without it, reload re-applies `config`. */
  loadConfig?: () => Config;
}

export async function buildDaemon(config: Config, log: Logger, opts: DaemonOptions = {}): Promise<Daemon> {
  mkdirSync(config.root, { recursive: true, mode: 0o700 }); // root's alone: see ImageStore.open
  mkdirSync(config.state, { recursive: true, mode: 0o711 });

  const closeables: Closeable[] = [];
  // Before anything else: cgroup_driver = "systemd" on a host without systemd stops the start here.
  const cgroups = await openCgroupDriver(config.cgroup_driver);
  closeables.push({ close: async () => cgroups.close() });
  // Metrics, /metrics listener, SIGHUP reload. Subsystems: ops.reload.register({...}) for live keys.
  const ops = buildOps({ config, log, loadConfig: opts.loadConfig });
  const network = new CniNetwork({
    confDir: config.cni.conf_dir,
    binDirs: config.cni.bin_dirs,
    cacheDir: join(config.root, 'cni-cache'),
    log: log.child({ subsystem: 'cni' }),
  });
  const images = await ImageStore.open({
    root: config.root,
    registryConfigDir: config.registry.config_path,
    log: log.child({ subsystem: 'image' }),
    maxConcurrentDownloads: config.registry.max_concurrent_downloads,
    progressTimeoutMs: config.registry.progress_timeout_seconds * 1000,
    unpackLimits: { maxBytes: config.registry.max_layer_unpack_bytes, maxEntries: config.registry.max_layer_entries },
  });
  closeables.push(images);
  const pods = await buildPodsSubsystem({ config, log: log.child({ subsystem: 'pods' }), network, images, cgroups });
  closeables.push(pods);
  registerPodCounter(() => podCensus(pods.sandboxes.all(), pods.containers.all()));
  const streaming = buildStreaming(config, pods, log.child({ subsystem: 'streaming' }));
  closeables.push(streaming.server);
  const podCidr = new PodCidrSettings({ root: config.root, confDir: config.cni.conf_dir, confTemplate: config.cni.conf_template });
  // A template that no longer renders must not keep the node's pods from being served: the CNI
  // config already in the conf dir (if any) stays, and NetworkReady reports what is missing.
  await podCidr.restore().catch((e: unknown) => log.warn({ err: e }, 'cni.conf_template: not rendered at start-up'));
  const sources: StatusSource[] = [...basicStatusSources(config), cniStatusSource(network), pods.status, ops.status];
  const runtime: Partial<RuntimeHandlers> = {
    ...runtimeInfoHandlers({ config, podCidr, sources }),
    ...pods.handlers,
    ...streaming.handlers,
  };
  const image: Partial<ImageHandlers> = { ...imageServiceHandlers(images, { pinnedImages: config.registry.pinned_images, handlers: Object.keys(config.runtime_handlers) }) };

  // `bulkhead images import|tag` reach the store through the root-only debug socket.
  ops.adminRoutes.push(...imageAdminRoutes(images, log.child({ subsystem: 'image' })));
  // SIGHUP (ops reload) re-reads the registry hosts (certs.d) without a restart.
  ops.reload.register({ name: 'registry-hosts', keys: [], always: true, apply: () => images.reloadRegistryConfig() });
  const server = new CriServer({ address: config.address, log, runtime, image, observer: ops.observer });
  return {
    async start() {
      await ops.start();
      await streaming.server.start();
      await server.listen();
      log.info({ address: config.address, root: config.root, state: config.state }, 'bulkheadd serving CRI');
    },
    async stop() {
      await server.shutdown();
      await ops.stop();
      for (const c of closeables.reverse()) await c.close().catch((e: unknown) => log.warn({ err: e }, 'close failed'));
      log.info('bulkheadd stopped');
    },
    reload: () => ops.reloadConfig(),
  };
}
