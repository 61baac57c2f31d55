// The daemon's operability parts in one place, so buildDaemon wires them in a few lines: the
// metrics observer for the CRI server, the optional /metrics listener, the debug socket, and SIGHUP config reload
// (with the log-level hook built in; subsystems add theirs through `reload.register`).
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { RpcObserver } from '../grpc/server.js';
import type { StatusSource } from '../cri/runtime-info.js';
import { metrics } from '../metrics/registry.js';
import { startOpsHttp, type OpsHttpServer } from '../metrics/http.js';
import { DEBUG_SOCKET_NAME, startDebugSocket, type DebugSocket } from '../metrics/debug-socket.js';
import type { AdminRoute } from '../metrics/debug-handlers.js';
import { join } from 'node:path';
import { ReloadRegistry, Reloader, type ReloadResult } from './reload.js';

export interface Ops {
  /** Subsystems declare their live-reloadable keys here (see pkg/daemon/reload.ts). */
  reload: ReloadRegistry;
  /** Extra routes on the root-only debug socket; add them before start(). */
  adminRoutes: AdminRoute[];
  /** Pass to CriServer's `observer`. */
  observer: RpcObserver;
  /** Status verbose info: the config in effect and the last reload's outcome. */
  status: StatusSource;
  /** Starts the root-only debug socket (<state>/debug.sock), and the metrics listener when metrics.address is set. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** What SIGHUP does. */
  reloadConfig(): Promise<ReloadResult>;
}

export function buildOps(deps: { config: Config; log: Logger; loadConfig?: () => Config }): Ops {
  const { config, log } = deps;
  const reload = new ReloadRegistry();
  reload.register({ name: 'log', keys: ['log_level'], apply: (next) => void (log.level = next.log_level) });
  const reloader = new Reloader({ registry: reload, log, load: deps.loadConfig ?? (() => config), initial: config });
  let http: OpsHttpServer | undefined;
  let debug: DebugSocket | undefined;
  const adminRoutes: AdminRoute[] = [];
  return {
    reload,
    adminRoutes,
    observer: metrics.rpcObserver(),
    status: reloader.statusSource(),
    async start() {
      // Optional like the metrics listener: without it runtime log-level changes and image imports are lost.
      debug = await startDebugSocket({ path: join(config.state, DEBUG_SOCKET_NAME), log, routes: adminRoutes }).catch((e: unknown) => {
        log.warn({ err: e }, 'debug socket unavailable');
        return undefined;
      });
      if (!config.metrics.address) return;
      metrics.enableProcessMetrics();
      http = await startOpsHttp({ address: config.metrics.address, metrics, log });
    },
    async stop() {
      await Promise.all([http?.close(), debug?.close()]);
      http = undefined;
      debug = undefined;
    },
    reloadConfig: () => reloader.reload(),
  };
}
