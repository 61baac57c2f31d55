#!/usr/bin/env node
// bulkhead: the node operator's command (the daemon is bulkheadd).
//   bulkhead status [--json] [--address SOCK] [--config FILE]
//   bulkhead config check FILE [--json]
//   bulkhead version [--json]
//   bulkhead loglevel [LEVEL] [--socket SOCK] [--config FILE]
//   bulkhead images import FILE|- [--json]   bulkhead images tag SOURCE TARGET
import { createReadStream } from 'node:fs';
import { parseArgs } from 'node:util';
import { DEFAULT_CONFIG_PATH } from '../../pkg/config/load.js';
import { CRI_API_VERSION, RUNTIME_VERSION } from '../../pkg/cri/runtime-info.js';
import { buildStatusReport, formatStatus } from '../../pkg/ops/status-report.js';
import { checkConfigFile } from '../../pkg/ops/config-check.js';
import { debugRequest, debugSocketPath } from '../../pkg/ops/debug-client.js';
import { importArchive, tagImage, type AdminResult } from '../../pkg/ops/image-admin-client.js';

const HELP = `Usage: bulkhead <command> [options]

Commands:
  status              what works on this node: daemon, Status conditions, config in effect,
                      runtime handlers (OCI runtime, accelerator, guest image), CNI readiness
  config check FILE   validate a config file; prints every error with its key path (exit 1 on errors)
  loglevel [LEVEL]    print the daemon's log level, or set it until the next reload/restart
                      (through the root-only debug socket, <state>/debug.sock)
  images import FILE|-
                      load the images of an archive (docker save / OCI layout tar, maybe gzip'd;
                      - reads stdin) into the running daemon's store, checked like a pull
  images tag SOURCE TARGET
                      give an image (reference or id) another tag, moved from any other image
  version             print the version

Options:
  -a, --address SOCK  CRI socket of the daemon (default: the config's address)
  -c, --config FILE   config file (default ${DEFAULT_CONFIG_PATH})
      --socket SOCK   debug socket of the daemon (default: <state>/debug.sock from the config)
      --json          machine-readable output
  -h, --help          this help
`;

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      address: { type: 'string', short: 'a' },
      config: { type: 'string', short: 'c' },
      socket: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
    strict: true,
  });
  const [cmd, ...rest] = positionals;
  const json = values.json ?? false;
  const print = (v: unknown) => process.stdout.write(`${JSON.stringify(v, null, 2)}\n`);
  if (values.help || !cmd || cmd === 'help') {
    process.stdout.write(HELP);
    return cmd || values.help ? 0 : 2;
  }
  switch (cmd) {
    case 'version':
      if (json) print({ name: 'bulkhead', version: RUNTIME_VERSION, cri_api: CRI_API_VERSION, node: process.version });
      else process.stdout.write(`bulkhead ${RUNTIME_VERSION} (CRI ${CRI_API_VERSION}, node ${process.version})\n`);
      return 0;
    case 'status': {
      const report = await buildStatusReport({ address: values.address, configPath: values.config });
      if (json) print(report);
      else process.stdout.write(formatStatus(report));
      return 0;
    }
    case 'loglevel': {
      if (rest.length > 1) {
        process.stderr.write('usage: bulkhead loglevel [LEVEL]\n');
        return 2;
      }
      const socket = values.socket ?? debugSocketPath(values.config);
      try {
        const r = rest[0] === undefined ? await debugRequest(socket, 'GET', '/debug/loglevel') : await debugRequest(socket, 'PUT', '/debug/loglevel', rest[0]);
        (r.status === 200 ? process.stdout : process.stderr).write(r.body);
        return r.status === 200 ? 0 : 1;
      } catch (e) {
        process.stderr.write(`bulkhead: debug socket ${socket}: ${(e as Error).message}\n`);
        return 1;
      }
    }
    case 'images': {
      const [sub, ...args] = rest;
      const socket = values.socket ?? debugSocketPath(values.config);
      let result: AdminResult;
      try {
        if (sub === 'import' && args.length === 1) {
          result = await importArchive(socket, args[0] === '-' ? process.stdin : createReadStream(args[0]!));
        } else if (sub === 'tag' && args.length === 2) {
          result = await tagImage(socket, args[0]!, args[1]!);
        } else {
          process.stderr.write('usage: bulkhead images import FILE|- | bulkhead images tag SOURCE TARGET\n');
          return 2;
        }
      } catch (e) {
        process.stderr.write(`bulkhead: images ${sub}: ${(e as Error).message}\n`);
        return 1;
      }
      if (json) print(result);
      else for (const i of result.images) process.stdout.write(`${sub === 'tag' ? 'tagged' : 'imported'} ${[...i.repoTags, ...(i.repoTags.length ? [] : ['<untagged>'])].join(' ')} ${i.id}\n`);
      return 0;
    }
    case 'config': {
      if (rest[0] !== 'check' || rest.length !== 2) {
        process.stderr.write('usage: bulkhead config check FILE [--json]\n');
        return 2;
      }
      const r = checkConfigFile(rest[1]!);
      if (json) print(r);
      else if (r.ok) process.stdout.write(`${r.file}: OK\n`);
      else {
        for (const e of r.errors) process.stdout.write(`${r.file}: ${e}\n`);
        process.stdout.write(`${r.errors.length} error${r.errors.length === 1 ? '' : 's'}\n`);
      }
      return r.ok ? 0 : 1;
    }
    default:
      process.stderr.write(`bulkhead: unknown command "${cmd}"\n${HELP}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`bulkhead: ${(e as Error).message}\n`);
    process.exitCode = 2;
  },
);
