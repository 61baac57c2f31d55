#!/usr/bin/env node
// bulkheadd: the Bulkhead CRI daemon. Flags follow containerd's names where they mean the same.
import { parseArgs } from 'node:util';
import { ensureDaemonNodeFlags } from './node-flags.js';

// Before anything heavy is loaded: this may replace the process (execve) with the V8 flags added.
ensureDaemonNodeFlags();
// Loaded only after the re-exec decision, so the first image of the process parses nothing else.
const { loadConfig, ConfigError, DEFAULT_CONFIG_PATH } = await import('../../pkg/config/load.js');
const { createLogger } = await import('../../pkg/log/logger.js');
const { buildDaemon } = await import('../../pkg/daemon/daemon.js');

const HELP = `Usage: bulkheadd [options]

Bulkhead CRI runtime daemon (runtime.v1 RuntimeService + ImageService on a unix socket).

Options:
  -c, --config FILE     TOML config file (default ${DEFAULT_CONFIG_PATH}; missing file = embedded defaults)
      --root DIR        persistent data dir: images, snapshots, metadata (default /var/lib/bulkhead)
      --state DIR       volatile state dir: sockets, pinned namespaces (default /run/bulkhead)
  -a, --address PATH    CRI unix socket path (default /run/bulkhead/bulkhead.sock)
  -l, --log-level LVL   trace|debug|info|warn|error|fatal (default info)
  -v, --version         print the version and exit
  -h, --help            print this help and exit

Command-line flags override the config file. See README.md for every config key.
`;

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      config: { type: 'string', short: 'c' },
      root: { type: 'string' },
      state: { type: 'string' },
      address: { type: 'string', short: 'a' },
      'log-level': { type: 'string', short: 'l' },
      version: { type: 'boolean', short: 'v' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(HELP);
    return;
  }
  if (values.version) {
    process.stdout.write('bulkheadd 0.1.0 (CRI v1)\n');
    return;
  }
  const overrides = {
    root: values.root,
    state: values.state,
    address: values.address,
    log_level: values['log-level'],
  };
  const config = loadConfig(values.config, overrides);
  const log = createLogger(config.log_level);
  const daemon = await buildDaemon(config, log, { loadConfig: () => loadConfig(values.config, overrides) });
  await daemon.start();
  // SIGHUP re-reads the config file (command-line flags keep overriding it); see docs/operations.md.
  process.on('SIGHUP', () => {
    log.info({ signal: 'SIGHUP' }, 'reloading configuration');
    daemon.reload().catch((e: unknown) => log.error({ err: e }, 'config reload failed'));
  });

  let stopping = false;
  const stop = (sig: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal: sig }, 'shutting down');
    daemon.stop().then(
      () => process.exit(0),
      (e: unknown) => {
        log.error({ err: e }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((e: unknown) => {
  // A config that does not fit the host (cgroup_driver "systemd" without systemd): no stack to read.
  if (e instanceof ConfigError || (e instanceof Error && e.name === 'CgroupDriverError')) {
    process.stderr.write(`bulkheadd: ${e.message}\n`);
    process.exit(2);
  }
  process.stderr.write(`bulkheadd: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
