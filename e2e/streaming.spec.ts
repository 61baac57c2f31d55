// Streaming end to end: the real client-go executors/port-forwarder (e2e/streaming-client)
// against StreamingServer + OciStreams (the OCI task runtime's streams), with busybox containers run by conmon+runc
// in a network namespace of their own. Needs root, runc, conmon, socat, go.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import pino from 'pino';
import { WebSocket } from 'ws';
import { StreamingServer } from '../pkg/streaming/server.js';
import { OciStreams, type OciStreamTarget } from '../pkg/runtime/oci/oci-streams.js';
import type { StreamingBackend } from '../pkg/streaming/backend.js';
import { RuncContainer, createNetns, deleteNetns, makeRootfs, type Netns } from './support/runc-container.js';
import { buildGoClient, runClient } from './support/go-client.js';
import { freeLocalPorts } from './lib/free-port.js';

const log = pino({ level: process.env.BULKHEAD_TEST_LOG ?? 'warn' }, process.env.BULKHEAD_TEST_LOG_FILE ? pino.destination(process.env.BULKHEAD_TEST_LOG_FILE) : undefined);
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

let work: string;
let rootfs: string;
let netns: Netns;
let client: string;
let server: StreamingServer;
const containers: RuncContainer[] = [];
const targets = new Map<string, OciStreamTarget>();
const helpers: ChildProcess[] = [];
let data50: Buffer;

async function container(spec: Omit<ConstructorParameters<typeof RuncContainer>[2], 'netns'>): Promise<RuncContainer> {
  const c = new RuncContainer(work, rootfs, { ...spec, netns });
  containers.push(c);
  await c.start();
  targets.set(c.id, c.target);
  return c;
}

function execUrl(c: RuncContainer, cmd: string[], o: { tty?: boolean; stdin?: boolean; stderr?: boolean } = {}): string {
  return server.register({ kind: 'exec', containerId: c.id, cmd, tty: o.tty ?? false, stdin: o.stdin ?? false, stdout: true, stderr: o.stderr ?? !o.tty });
}

function inContainer(c: RuncContainer, cmd: string[]): string {
  return execFileSync('runc', ['--root', c.runtimeRoot, 'exec', c.id, ...cmd]).toString();
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'bulkhead-streaming-'));
  client = buildGoClient(work);
  rootfs = makeRootfs(work);
  data50 = randomBytes(50 * 1024 * 1024);
  writeFileSync(join(rootfs, 'data50.bin'), data50);
  netns = createNetns();
  // The daemon serves sessions through each container's task runtime; here the OCI streams directly.
  const streams = new OciStreams(log);
  const target = (id: string): OciStreamTarget => {
    const t = targets.get(id);
    if (!t) throw new Error(`no container ${id}`);
    return t;
  };
  const backend: StreamingBackend = {
    exec: (id, cmd, o) => streams.exec(target(id), cmd, o),
    attach: (id, o) => streams.attach(target(id), o),
    portForward: (_podId, port) => streams.portForward(netns.path, port),
  };
  server = new StreamingServer({ address: '127.0.0.1', port: 0, tokenTtlSeconds: 30, backend, log });
  await server.start();
});

afterAll(async () => {
  await server?.close();
  for (const h of helpers) h.kill('SIGKILL');
  for (const c of containers) c.cleanup();
  if (netns) deleteNetns(netns);
  if (work) rmSync(work, { recursive: true, force: true });
});

describe.each([
  ['spdy', [] as string[]],
  ['websocket', ['-ws']],
])('exec over %s', (_name, ws) => {
  let c: RuncContainer;
  beforeAll(async () => {
    c = await container({ args: ['sleep', '3600'] });
  });

  it('delivers stdout, stderr and the exit code', async () => {
    const r = await runClient(client, ['exec', ...ws, execUrl(c, ['sh', '-c', 'echo out; echo err >&2; exit 3'])]);
    expect(r.stdout.toString()).toBe('out\n');
    expect(r.stderr).toContain('err\n');
    expect(r.stderr).toContain('command terminated with exit code 3');
    expect(r.code).toBe(3);
  });

  it('forwards stdin until EOF', async () => {
    const r = await runClient(client, ['exec', ...ws, '-stdin', execUrl(c, ['tr', 'a-z', 'A-Z'], { stdin: true })], { input: 'shout please\n' });
    expect(r.stdout.toString()).toBe('SHOUT PLEASE\n');
    expect(r.code).toBe(0);
  });

  it('runs a tty with the client terminal size', async () => {
    const r = await runClient(client, ['exec', ...ws, '-tty', '-stdin', '-resize', '100x30', execUrl(c, ['sh', '-c', 'sleep 0.5; stty size; tty'], { tty: true, stdin: true })]);
    expect(r.stdout.toString()).toMatch(/^30 100\r\n\/dev\/pts\/\d+\r\n$/);
    expect(r.code).toBe(0);
  });

  it('streams 50 MB of output intact', async () => {
    const r = await runClient(client, ['exec', ...ws, execUrl(c, ['cat', '/data50.bin'])], { timeoutMs: 120_000 });
    expect(r.code).toBe(0);
    expect(r.stdout.length).toBe(data50.length);
    expect(sha(r.stdout)).toBe(sha(data50));
  });

  it('holds a fast producer back for a client that does not read (bounded memory)', async () => {
    const p = runClient(client, ['exec', ...ws, execUrl(c, ['cat', '/dev/zero'])]);
    p.child.stdout!.pause();
    p.child.stdout!.removeAllListeners('data');
    await new Promise((r) => setTimeout(r, 1000));
    const before = process.memoryUsage().rss;
    await new Promise((r) => setTimeout(r, 3000));
    const grown = process.memoryUsage().rss - before;
    expect(grown).toBeLessThan(100 * 1024 * 1024);
    expect(inContainer(c, ['ps'])).toContain('cat /dev/zero');
    p.child.kill('SIGKILL');
    await p;
    await waitFor(() => !inContainer(c, ['ps']).includes('cat /dev/zero'));
  });

  it('kills the process when the client vanishes', async () => {
    const marker = `${3000 + Math.floor(Math.random() * 1000)}`;
    const p = runClient(client, ['exec', ...ws, execUrl(c, ['sleep', marker])]);
    await waitFor(() => inContainer(c, ['ps']).includes(`sleep ${marker}`));
    p.child.kill('SIGKILL');
    await p;
    await waitFor(() => !inContainer(c, ['ps']).includes(`sleep ${marker}`));
  });
});

describe('older protocol versions', () => {
  let c: RuncContainer;
  beforeAll(async () => {
    c = await container({ args: ['sleep', '3600'] });
  });
  const cmd = ['sh', '-c', 'echo out; echo err >&2; exit 3'];

  it.each([
    ['v4.channel.k8s.io', []],
    ['v4.channel.k8s.io', ['-ws']],
  ])('%s %s: Status JSON with the exit code', async (proto, ws) => {
    const r = await runClient(client, ['exec', ...ws, '-protocols', proto, execUrl(c, cmd)]);
    expect(r.stdout.toString()).toBe('out\n');
    expect(r.stderr).toContain('EXIT:3 command terminated with exit code 3');
  });

  it.each(['v3.channel.k8s.io', 'v2.channel.k8s.io', 'channel.k8s.io'])('%s over SPDY: output, and a plain-text failure message', async (proto) => {
    const r = await runClient(client, ['exec', '-protocols', proto, execUrl(c, cmd)]);
    expect(r.stdout.toString()).toBe('out\n');
    expect(r.stderr).toContain('err\n');
    // v1 clients return when the output ends, whether or not they have read the error stream yet.
    if (proto !== 'channel.k8s.io') expect(r.stderr).toContain('command terminated with non-zero exit code');
    const ok = await runClient(client, ['exec', '-protocols', proto, execUrl(c, ['echo', 'fine'])]);
    expect(ok.stdout.toString()).toBe('fine\n');
    expect(ok.code).toBe(0);
  });

  it('v3 carries terminal resizes', async () => {
    const r = await runClient(client, ['exec', '-protocols', 'v3.channel.k8s.io', '-tty', '-stdin', '-resize', '90x20', execUrl(c, ['sh', '-c', 'sleep 0.5; stty size'], { tty: true, stdin: true })]);
    expect(r.stdout.toString()).toBe('20 90\r\n');
  });

  it('kubelet WebSocket port-forward protocol: port prefix, data and error channels', async () => {
    const port = 17000; // the spec's own netns: fixed ports cannot collide
    await startPeer('upload', port);
    const url = server.register({ kind: 'portforward', podSandboxId: 'pod', ports: [] }).replace('http://', 'ws://') + `?ports=${port}`;
    const ws = new WebSocket(url, ['v4.channel.k8s.io']);
    const byChannel = new Map<number, Buffer[]>();
    ws.on('message', (m: Buffer) => byChannel.set(m[0]!, [...(byChannel.get(m[0]!) ?? []), m.subarray(1)]));
    await new Promise((r) => ws.once('open', r));
    expect(ws.protocol).toBe('v4.channel.k8s.io');
    ws.send(Buffer.concat([Buffer.from([0]), Buffer.from('ping over channels')]));
    // The test server answers once the client half-closes; this protocol has no half-close, so
    // check the prefix frames, then close and expect a clean end.
    await waitFor(() => (byChannel.get(0)?.length ?? 0) >= 1 && (byChannel.get(1)?.length ?? 0) >= 1);
    const prefix = Buffer.alloc(2);
    prefix.writeUInt16LE(port, 0);
    expect(byChannel.get(0)![0]).toEqual(prefix);
    expect(byChannel.get(1)![0]).toEqual(prefix);
    ws.close();
    await new Promise((r) => ws.once('close', r));
  });
});

describe('attach', () => {
  it.each([
    ['spdy', [] as string[]],
    ['websocket', ['-ws']],
  ])('sends stdin to the container process and ends when it exits (stdin_once, %s)', async (_n, ws) => {
    const c = await container({ args: ['sh'], stdin: true, stdinOnce: true });
    const url = server.register({ kind: 'attach', containerId: c.id, tty: false, stdin: true, stdout: true, stderr: true });
    // The sleep: conmon may close attach connections on exit before relaying output still in the pipes.
    const r = await runClient(client, ['exec', ...ws, '-stdin', url], { input: 'echo hello from attach; echo to-stderr >&2; sleep 0.3\n' });
    expect(r.stdout.toString()).toBe('hello from attach\n');
    expect(r.stderr).toBe('to-stderr\n');
    expect(r.code).toBe(0);
    await waitFor(() => c.state() === 'stopped');
  });

  it('detaching leaves the container running', async () => {
    const c = await container({ args: ['sh', '-c', 'while true; do echo tick; sleep 0.2; done'] });
    const url = server.register({ kind: 'attach', containerId: c.id, tty: false, stdin: false, stdout: true, stderr: true });
    const p = runClient(client, ['exec', url]);
    await new Promise((r) => setTimeout(r, 1000));
    p.child.kill('SIGKILL');
    const r = await p;
    expect(r.stdout.toString()).toContain('tick\n');
    await new Promise((r) => setTimeout(r, 500));
    expect(c.state()).toBe('running');
  });

  it('attaches to a tty and resizes it', async () => {
    const c = await container({ args: ['sh'], tty: true, stdin: true });
    const url = server.register({ kind: 'attach', containerId: c.id, tty: true, stdin: true, stdout: true, stderr: false });
    const r = await runClient(client, ['exec', '-tty', '-stdin', '-resize', '120x40', url], { input: 'sleep 0.5; stty size\n', keepStdinOpenMs: 2000 });
    expect(r.stdout.toString()).toContain('40 120');
    expect(c.state()).toBe('running'); // the client's stdin ending detached, the shell lives on
  });
});

describe.each([
  ['spdy', [] as string[], 18000],
  ['websocket tunnel', ['-ws'], 18100],
])('port-forward over %s', (_name, ws, upPort) => {
  // Ports in the spec's own netns, distinct per block: fixed, so they cannot collide.
  const downPort = upPort + 1000;
  const file = () => join(work, 'data100.bin');
  let data100: Buffer;
  beforeAll(async () => {
    data100 = randomBytes(100 * 1024 * 1024);
    writeFileSync(file(), data100);
    for (const [mode, port] of [['upload', upPort], ['download', downPort]] as const) {
      await startPeer(mode, port, file());
    }
  });

  async function forward(pairs: string[]): Promise<{ child: ChildProcess; local: number[] }> {
    const url = server.register({ kind: 'portforward', podSandboxId: 'pod', ports: [] });
    const p = runClient(client, ['portforward', ...ws, url, ...pairs], { keepStdinOpenMs: 600_000, timeoutMs: 600_000 });
    helpers.push(p.child);
    let out = '';
    let err = '';
    p.child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`port-forward did not listen in 30 s: ${out} ${err}`)), 30_000);
      p.child.stdout!.on('data', (b: Buffer) => {
        out += b.toString();
        if (out.split('Forwarding from 127.0.0.1').length - 1 >= pairs.length) {
          clearTimeout(t);
          resolve();
        }
      });
      p.child.once('exit', (code) => {
        clearTimeout(t);
        reject(new Error(`port-forward exited ${code}: ${out} ${err}`));
      });
    });
    return { child: p.child, local: pairs.map((x) => Number(x.split(':')[0])) };
  }

  it('moves 100 MB each way intact, several ports and concurrent connections in one session', async () => {
    const l1 = await freeLocalPorts(2);
    const { child } = await forward([`${l1}:${upPort}`, `${l1 + 1}:${downPort}`]);
    const [up, down, ...small] = await Promise.all([
      tcpRoundTrip(l1, data100),
      tcpRoundTrip(l1 + 1, Buffer.alloc(0)),
      ...[1, 2, 3, 4].map((i) => tcpRoundTrip(l1, Buffer.from(`conn ${i}`))),
    ]);
    expect(up.toString()).toBe(`${sha(data100)} ${data100.length}\n`);
    expect(down.length).toBe(data100.length);
    expect(sha(down)).toBe(sha(data100));
    small.forEach((r, i) => expect(r.toString()).toBe(`${sha(Buffer.from(`conn ${i + 1}`))} ${`conn ${i + 1}`.length}\n`));
    child.kill('SIGTERM');
  });

  it('a connection the pod drops while the client keeps sending does not stall the session', async () => {
    const closePort = upPort + 2000;
    await startPeer('close', closePort);
    const l1 = await freeLocalPorts(2);
    const { child } = await forward([`${l1}:${closePort}`, `${l1 + 1}:${upPort}`]);
    await tcpRoundTrip(l1, randomBytes(20 * 1024 * 1024)).catch(() => Buffer.alloc(0));
    const small = Buffer.from('still flowing');
    expect((await tcpRoundTrip(l1 + 1, small)).toString()).toBe(`${sha(small)} ${small.length}\n`);
    child.kill('SIGTERM');
  });

  it('a vanished client leaves no connection in the pod', async () => {
    const l1 = await freeLocalPorts(2);
    const { child } = await forward([`${l1}:${downPort}`]);
    const s = net.connect(l1, '127.0.0.1');
    s.on('error', () => undefined);
    await new Promise((r) => s.once('data', r));
    s.pause(); // a slow reader mid-transfer
    const established = () => execFileSync('ip', ['netns', 'exec', netns.name, 'ss', '-Htn', 'state', 'established', `( sport = :${downPort} )`]).toString().trim();
    await waitFor(() => established() !== '');
    child.kill('SIGKILL');
    await waitFor(() => established() === '');
    s.destroy();
  });

  it('reports a closed port on the error stream', async () => {
    const l1 = await freeLocalPorts(1);
    const { child } = await forward([`${l1}:1`]);
    let err = '';
    child.stderr!.on('data', (b: Buffer) => (err += b.toString()));
    await tcpRoundTrip(l1, Buffer.alloc(0)).catch(() => Buffer.alloc(0));
    await waitFor(() => err.includes('error forwarding port 1'));
    child.kill('SIGTERM');
  });
});

/** Starts the test peer (support/tcp-test-server.mjs) inside the pod netns; resolves once it listens. */
async function startPeer(mode: 'upload' | 'download' | 'close', port: number, file?: string): Promise<void> {
  const args = ['netns', 'exec', netns.name, process.execPath, join(import.meta.dirname, 'support', 'tcp-test-server.mjs'), mode, String(port), ...(file ? [file] : [])];
  const h = spawn('ip', args, { stdio: ['ignore', 'pipe', 'inherit'] });
  helpers.push(h);
  await new Promise<void>((resolve, reject) => {
    h.stdout!.once('data', () => resolve());
    h.once('exit', (code) => reject(new Error(`test peer ${mode} on port ${port} exited ${code}`)));
  });
}

function tcpRoundTrip(port: number, payload: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    s.on('data', (b) => chunks.push(b));
    s.on('end', () => resolve(Buffer.concat(chunks)));
    s.on('error', reject);
    s.end(payload);
  });
}

async function waitFor(cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('condition not met in time');
}

