// Operability end to end: a real bulkheadd (from dist/, `npm run build` first) with the metrics
// listener on a loopback port and temp root/state/socket; CRI calls over the socket, a /metrics
// scrape, a SIGHUP reload, the `bulkhead` CLI (status --json, config check) and a config with three
// mistakes that keeps the daemon from starting.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { loadCri } from '../pkg/api/cri.js';
import { parseExposition, sumSamples } from '../pkg/metrics/exposition.js';
import { DEBUG_SOCKET_NAME } from '../pkg/metrics/debug-socket.js';
import { debugRequest } from '../pkg/ops/debug-client.js';

const run = promisify(execFile);
const REPO = resolve(import.meta.dirname, '..');
const DAEMON = join(REPO, 'dist/cmd/bulkheadd/main.js');
const CLI = join(REPO, 'dist/cmd/bulkhead/main.js');

const THREE_MISTAKES = `
log_levl = "debug"
[registry]
max_concurrent_downloads = "four"
[runtime_handlers.microvm]
kind = "vm"
accelerator = "hvf"
`;

class DaemonProc {
  readonly lines: Record<string, unknown>[] = [];
  private waiters: { pred: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }[] = [];
  readonly exited: Promise<number | null>;
  stderr = '';
  constructor(readonly proc: ChildProcess) {
    let buf = '';
    proc.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const text = buf.slice(0, i);
        buf = buf.slice(i + 1);
        let l: Record<string, unknown>;
        try {
          l = JSON.parse(text) as Record<string, unknown>;
        } catch {
          continue;
        }
        this.lines.push(l);
        this.waiters = this.waiters.filter((w) => (w.pred(l) ? (w.resolve(l), false) : true));
      }
    });
    proc.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.exited = new Promise((res) => proc.on('exit', (code) => res(code)));
  }
  waitFor(pred: (l: Record<string, unknown>) => boolean, what: string, ms = 15_000): Promise<Record<string, unknown>> {
    const seen = this.lines.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((res, rej) => {
      const t = setTimeout(() => rej(new Error(`timed out waiting for ${what}; stderr: ${this.stderr}`)), ms);
      this.waiters.push({ pred, resolve: (l) => (clearTimeout(t), res(l)) });
    });
  }
}

function startDaemon(configFile: string): DaemonProc {
  return new DaemonProc(spawn(process.execPath, [DAEMON, '--config', configFile], { stdio: ['ignore', 'pipe', 'pipe'] }));
}

function unary<Req, Res>(client: grpc.Client, method: string, req: Req): Promise<{ res?: Res; code: grpc.status }> {
  return new Promise((res) => {
    (client as unknown as Record<string, (r: Req, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r?: Res) => void) => void>)[method]!(
      req,
      { deadline: Date.now() + 10_000 },
      (e, r) => res({ res: r, code: e ? e.code : grpc.status.OK }),
    );
  });
}

describe('operability: metrics, reload, bulkhead CLI', () => {
  let dir: string;
  let configFile: string;
  let sock: string;
  let d: DaemonProc;
  let metricsUrl: string;
  let client: grpc.Client;

  const writeConfig = (logLevel: string, root = `${dir}/root`, tail = '') =>
    writeFileSync(
      configFile,
      `root = "${root}"\nstate = "${dir}/state"\naddress = "${sock}"\nlog_level = "${logLevel}"\n[metrics]\naddress = "127.0.0.1:0"\n${tail}`,
    );

  beforeAll(async () => {
    if (!existsSync(DAEMON) || !existsSync(CLI)) throw new Error('dist/ is missing: run `npm run build` first');
    dir = mkdtempSync(join(tmpdir(), 'bulkhead-ops-e2e-'));
    configFile = join(dir, 'config.toml');
    sock = join(dir, 'bulkhead.sock');
    writeConfig('info');
    d = startDaemon(configFile);
    const m = await d.waitFor((l) => l.msg === 'metrics endpoint serving', 'metrics endpoint');
    metricsUrl = `http://${String(m.address)}`;
    await d.waitFor((l) => l.msg === 'bulkheadd serving CRI', 'CRI socket');
    client = new (loadCri().runtime.v1.RuntimeService)(`unix://${sock}`, grpc.credentials.createInsecure());
  });

  afterAll(async () => {
    client?.close();
    if (d && d.proc.exitCode === null) {
      d.proc.kill('SIGTERM');
      await d.exited;
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('CRI calls show up in /metrics with service/method/code labels', async () => {
    expect((await unary(client, 'Version', { version: 'v1' })).code).toBe(grpc.status.OK);
    expect((await unary(client, 'Status', { verbose: true })).code).toBe(grpc.status.OK);
    // Any RPC that fails (unimplemented today, NotFound once implemented) counts as an error with its code.
    const failing = await unary(client, 'CheckpointContainer', { container_id: 'does-not-exist', location: '/nonexistent' });
    expect(failing.code).not.toBe(grpc.status.OK);

    const res = await fetch(`${metricsUrl}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const fams = parseExposition(await res.text());
    const total = fams.get('bulkhead_grpc_requests_total');
    expect(sumSamples(total, { service: 'RuntimeService', method: 'Version', code: 'OK' })).toBeGreaterThanOrEqual(1);
    expect(sumSamples(total, { method: 'Status', code: 'OK' })).toBeGreaterThanOrEqual(1);
    const codeName = grpc.status[failing.code];
    expect(sumSamples(fams.get('bulkhead_grpc_errors_total'), { method: 'CheckpointContainer', code: codeName })).toBe(1);
    expect(sumSamples(fams.get('bulkhead_grpc_request_duration_seconds'), { method: 'Version' }, 'bulkhead_grpc_request_duration_seconds_count')).toBeGreaterThanOrEqual(1);
    expect(sumSamples(fams.get('bulkhead_process_resident_memory_bytes'))).toBeGreaterThan(1e6);
    expect(sumSamples(fams.get('bulkhead_process_open_fds'))).toBeGreaterThan(0);
    expect(fams.has('bulkhead_nodejs_eventloop_lag_seconds')).toBe(true);
    for (const name of ['bulkhead_pods', 'bulkhead_containers', 'bulkhead_image_pulls_total', 'bulkhead_vm_pool_size', 'bulkhead_cni_duration_seconds']) {
      expect(fams.has(name), name).toBe(true);
    }
  });

  test('/debug/loglevel is on the root-only debug socket, not on the metrics listener', async () => {
    expect((await fetch(`${metricsUrl}/debug/loglevel`, { method: 'PUT', body: 'warn' })).status).toBe(404);
    const sock = join(dir, 'state', DEBUG_SOCKET_NAME);
    expect(statSync(sock).mode & 0o777).toBe(0o600);
    expect((await debugRequest(sock, 'GET', '/debug/loglevel')).body.trim()).toBe('info');
    expect((await debugRequest(sock, 'PUT', '/debug/loglevel', 'loud')).status).toBe(400);
    expect((await debugRequest(sock, 'PUT', '/debug/loglevel', 'warn')).status).toBe(200);
    const changed = await d.waitFor((l) => l.msg === 'log level changed', '"log level changed" line');
    expect(changed).toMatchObject({ previous: 'info', level: 'warn', via: 'debug socket' });
    expect((await debugRequest(sock, 'GET', '/debug/loglevel')).body.trim()).toBe('warn');
    await debugRequest(sock, 'PUT', '/debug/loglevel', 'info');
  });

  test('SIGHUP applies log_level live and says a changed root needs a restart', async () => {
    writeConfig('debug', `${dir}/root`, THREE_MISTAKES); // first an invalid file...
    d.proc.kill('SIGHUP');
    const rejected = await d.waitFor((l) => String(l.msg).startsWith('config reload rejected'), 'reload rejected line');
    expect(rejected.errors).toHaveLength(3);

    writeConfig('debug', `${dir}/root2`); // ...then a valid one with a new log level and a new root
    d.proc.kill('SIGHUP');
    const reloaded = await d.waitFor((l) => l.msg === 'config reloaded', '"config reloaded" line');
    expect(reloaded.changed).toEqual(['log_level']);
    expect(reloaded.needs_restart).toEqual(['root']);
    await d.waitFor((l) => l.msg === 'config key root changed: needs a restart', 'needs-restart line');

    // debug is now on: a polling RPC (logged at debug) appears in the log, with its request id.
    await unary(client, 'Version', { version: 'v1' });
    const line = await d.waitFor((l) => l.msg === 'rpc' && l.rpc === 'Version' && l.level === 20, 'debug rpc line');
    expect(line.req).toMatch(/^[0-9a-f]{12}$/);
  });

  test('bulkhead status --json reports the daemon, the config in effect and every handler', async () => {
    const { stdout } = await run(process.execPath, [CLI, 'status', '--json', '--config', configFile], { timeout: 30_000 });
    const r = JSON.parse(stdout) as {
      daemon: { reachable: boolean; conditions: { type: string }[]; version: { runtime_name: string } };
      config: { source: string; effective: { log_level: string; root: string }; pending_restart: string[] };
      handlers: { name: string; kind: string; accelerator?: { accel: string; reason: string } }[];
      host: { cgroup_mode: string };
      cni: { ready: boolean };
    };
    expect(r.daemon.reachable).toBe(true);
    expect(r.daemon.version.runtime_name).toBe('bulkhead');
    expect(r.daemon.conditions.map((c) => c.type).sort()).toEqual(['NetworkReady', 'RuntimeReady']);
    expect(r.config.source).toBe('daemon');
    expect(r.config.effective.log_level).toBe('debug'); // applied by the SIGHUP above
    expect(r.config.effective.root).toBe(`${dir}/root`); // not applied: needs a restart
    expect(r.config.pending_restart).toEqual(['root']);
    expect(r.handlers.map((h) => h.name).sort()).toEqual(['crun', 'microvm', 'runc']);
    const vm = r.handlers.find((h) => h.kind === 'vm')!;
    expect(['kvm', 'tcg']).toContain(vm.accelerator?.accel);
    expect(vm.accelerator?.reason).toBeTruthy();

    const text = await run(process.execPath, [CLI, 'status', '--config', configFile], { timeout: 30_000 });
    expect(text.stdout).toMatch(/Daemon\s+✓ bulkhead/);
    expect(text.stdout.split('\n').length).toBeLessThan(30); // one screen
  });

  test('bulkhead config check: three mistakes → three errors with key paths, exit 1; a good file → exit 0', async () => {
    const bad = join(dir, 'bad.toml');
    writeFileSync(bad, THREE_MISTAKES);
    const err = await run(process.execPath, [CLI, 'config', 'check', bad]).then(
      () => undefined,
      (e: { code: number; stdout: string }) => e,
    );
    expect(err?.code).toBe(1);
    const lines = err!.stdout.split('\n').filter((l) => l.startsWith(`${bad}: `));
    expect(lines).toHaveLength(3);
    expect(lines.join('\n')).toContain('log_levl: unknown key (did you mean "log_level"?)');
    expect(lines.join('\n')).toContain('registry.max_concurrent_downloads: Expected number');
    expect(lines.join('\n')).toContain("runtime_handlers.microvm.accelerator: Invalid enum value. Expected 'auto' | 'kvm' | 'tcg', received 'hvf'");

    const json = await run(process.execPath, [CLI, 'config', 'check', '--json', bad]).catch((e: { stdout: string }) => e);
    expect((JSON.parse(json.stdout) as { errors: string[] }).errors).toHaveLength(3);

    const ok = await run(process.execPath, [CLI, 'config', 'check', configFile]);
    expect(ok.stdout).toBe(`${configFile}: OK\n`);
  });

  test('the daemon refuses to start on a config with three mistakes and prints all three', async () => {
    const bad = join(dir, 'bad-start.toml');
    writeFileSync(bad, `root = "${dir}/r3"\nstate = "${dir}/s3"\naddress = "${dir}/s3.sock"\n` + THREE_MISTAKES);
    const p = startDaemon(bad);
    expect(await p.exited).toBe(2);
    const problems = p.stderr.split('\n').filter((l) => /^\s+\S+: /.test(l));
    expect(problems).toHaveLength(3);
    expect(existsSync(`${dir}/s3.sock`)).toBe(false);
  });

  test('bulkhead status still reports local detection when the daemon is down', async () => {
    d.proc.kill('SIGTERM');
    expect(await d.exited).toBe(0);
    const { stdout } = await run(process.execPath, [CLI, 'status', '--json', '--config', configFile], { timeout: 30_000 });
    const r = JSON.parse(stdout) as { daemon: { reachable: boolean; error: string }; handlers: unknown[]; ok: boolean; blockers: string[] };
    expect(r.daemon.reachable).toBe(false);
    expect(r.handlers.length).toBe(3);
    expect(r.ok).toBe(false);
    expect(r.blockers).toContain('daemon not reachable');
    const text = await run(process.execPath, [CLI, 'status', '--config', configFile], { timeout: 30_000 });
    expect(text.stdout).toContain('daemon not reachable');
  });
});
